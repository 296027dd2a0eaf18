"""The fields read of each trade and refund: by the lists, the detail calls and TMC."""

TRADE_FIELDS = (
    "tid,tid_str,status,type,created,modified,pay_time,consign_time,end_time,payment,total_fee,"
    "post_fee,buyer_nick,buyer_open_uid,receiver_state,receiver_city,receiver_district,"
    "step_trade_status,step_paid_fee,orders"
)
REFUND_FIELDS = (
    "refund_id,tid,oid,status,refund_fee,created,modified,title,total_fee,order_status,"
    "good_status,has_good_return,reason,desc,refund_phase,buyer_nick,buyer_open_uid"
)
