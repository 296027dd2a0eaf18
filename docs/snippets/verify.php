<?php
// Verify an ordersync webhook: php verify.php SECRET ID TIMESTAMP SIGNATURE < body

// $headers: getallheaders() (any case); $body: file_get_contents('php://input')
function verify(string $secret, array $headers, string $body, int $tolerance = 300): bool
{
    $h = array_change_key_case($headers, CASE_LOWER);
    $id = $h['webhook-id'] ?? '';
    $ts = $h['webhook-timestamp'] ?? '';
    if (!preg_match('/^[0-9]{1,12}$/', $ts) || abs(time() - (int) $ts) > $tolerance) {
        return false;
    }
    $parts = array_map(
        fn ($p) => array_pad(explode('=', trim($p), 2), 2, ''),
        explode(',', $h['webhook-signature'] ?? '')
    );
    if (!in_array(['t', $ts], $parts, true)) {
        return false;
    }
    $expected = base64_encode(hash_hmac('sha256', "$id.$ts." . $body, $secret, true));
    foreach ($parts as [$name, $value]) {
        if ($name === 'v1' && hash_equals($expected, $value)) {
            return true;
        }
    }
    return false;
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    [, $secret, $id, $ts, $signature] = $argv;
    $headers = ['webhook-id' => $id, 'webhook-timestamp' => $ts, 'webhook-signature' => $signature];
    $ok = verify($secret, $headers, file_get_contents('php://stdin'));
    echo $ok ? "valid\n" : "invalid\n";
    exit($ok ? 0 : 1);
}
