// Reads trades and the change feed as a Node ERP would (fetch + JSON.parse) and checks that
// the string ids are exact where the numbers are not.
// Usage: node read_ids.mjs BASE_URL API_KEY EXPECTED_TID
const [base, key, expected] = process.argv.slice(2);

async function get(path) {
  const response = await fetch(base + path, { headers: { Authorization: `Bearer ${key}` } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return JSON.parse(await response.text());
}

const trade = (await get("/api/v1/trades")).results[0];
const change = (await get("/api/v1/changes/?limit=10")).results[0];
const report = {
  tid_str: trade.tid_str,
  oid_str: trade.lines[0].oid_str,
  key_str: change.key_str,
  number_exact: String(trade.tid) === expected,
};
console.log(JSON.stringify(report));
const exact = [report.tid_str, report.oid_str, report.key_str].every((id) => id === expected);
process.exit(exact ? 0 : 1);
