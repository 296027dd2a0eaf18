// Verify an ordersync webhook: java verify.java SECRET ID TIMESTAMP SIGNATURE < body
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class WebhookVerifier {
    /** True when body (the raw bytes received) was signed with secret recently. */
    public static boolean verify(String secret, String id, String timestamp, String signature,
            byte[] body, long toleranceSeconds) throws Exception {
        if (id == null || timestamp == null || signature == null
                || !timestamp.matches("[0-9]{1,12}")) {
            return false;
        }
        long now = System.currentTimeMillis() / 1000;
        if (Math.abs(now - Long.parseLong(timestamp)) > toleranceSeconds) {
            return false;
        }
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
        byte[] expected = Base64.getEncoder().encode(mac.doFinal(body));
        boolean timed = false, matched = false;
        for (String part : signature.split(",")) {
            String[] kv = part.trim().split("=", 2);
            String value = kv.length == 2 ? kv[1] : "";
            timed |= kv[0].equals("t") && value.equals(timestamp);
            matched |= kv[0].equals("v1")
                    && MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8), expected);
        }
        return timed && matched;
    }

    public static void main(String[] args) throws Exception {
        byte[] body = System.in.readAllBytes();
        boolean ok = verify(args[0], args[1], args[2], args[3], body, 300);
        System.out.println(ok ? "valid" : "invalid");
        System.exit(ok ? 0 : 1);
    }
}
