// Verify an ordersync webhook: node verify.mjs SECRET ID TIMESTAMP SIGNATURE < body
import { createHmac, timingSafeEqual } from "node:crypto";
import { pathToFileURL } from "node:url";

// headers: Node's req.headers (lower-case names); body: the raw Buffer received
export function verify(secret, headers, body, toleranceSeconds = 300) {
  const id = headers["webhook-id"] ?? "";
  const ts = headers["webhook-timestamp"] ?? "";
  if (!/^[0-9]{1,12}$/.test(ts)) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) return false;
  const parts = (headers["webhook-signature"] ?? "").split(",").map((p) => {
    const at = p.trim().indexOf("=");
    return [p.trim().slice(0, at), p.trim().slice(at + 1)];
  });
  if (!parts.some(([k, v]) => k === "t" && v === ts)) return false;
  const expected = Buffer.from(
    createHmac("sha256", secret)
      .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), body]))
      .digest("base64"),
  );
  return parts.some(([k, v]) => {
    const got = Buffer.from(v);
    return k === "v1" && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [secret, id, ts, signature] = process.argv.slice(2);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const headers = { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": signature };
  const ok = verify(secret, headers, Buffer.concat(chunks));
  console.log(ok ? "valid" : "invalid");
  process.exitCode = ok ? 0 : 1;
}
