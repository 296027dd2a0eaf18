// Verify an ordersync webhook: go run verify.go SECRET ID TIMESTAMP SIGNATURE < body
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Verify returns nil when body (the raw bytes received) was signed with secret recently.
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	id, ts := header.Get("webhook-id"), header.Get("webhook-timestamp")
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 || strings.ContainsAny(ts, "+-") {
		return errors.New("webhook-timestamp is not a whole number")
	}
	if math.Abs(time.Since(time.Unix(seconds, 0)).Seconds()) > tolerance.Seconds() {
		return errors.New("webhook-timestamp is outside the tolerance")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	expected := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	timed, matched := false, false
	for _, part := range strings.Split(header.Get("webhook-signature"), ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		timed = timed || (name == "t" && value == ts)
		matched = matched || (name == "v1" && hmac.Equal([]byte(value), expected))
	}
	if !timed || !matched {
		return errors.New("no v1 signature matches")
	}
	return nil
}

func main() {
	header := http.Header{}
	header.Set("webhook-id", os.Args[2])
	header.Set("webhook-timestamp", os.Args[3])
	header.Set("webhook-signature", os.Args[4])
	body, _ := io.ReadAll(os.Stdin)
	if err := Verify(os.Args[1], header, body, 5*time.Minute); err != nil {
		fmt.Println("invalid:", err)
		os.Exit(1)
	}
	fmt.Println("valid")
}
