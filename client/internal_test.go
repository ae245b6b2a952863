package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestBackoffFullJitter: attempt n waits in [0, min(MaxDelay,
// MinDelay·2ⁿ)), drawn from Options.Rand, and the draws spread over the
// whole range (full jitter, not a fixed delay plus a little noise).
func TestBackoffFullJitter(t *testing.T) {
	o := Options{MinDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second, Rand: rand.New(rand.NewPCG(7, 7))}
	setDefaults(&o)
	c := &Client{opts: o, rnd: o.Rand}
	for n, ceil := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000, 2000} {
		ceil *= time.Millisecond
		lo, hi := ceil, time.Duration(0)
		for range 2000 {
			d := c.backoff(n)
			if d < 0 || d >= ceil {
				t.Fatalf("attempt %d: %v outside [0, %v)", n, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > ceil/10 || hi < ceil*9/10 {
			t.Fatalf("attempt %d: draws in [%v, %v] of [0, %v): not spread", n, lo, hi, ceil)
		}
	}
	// The same seed, the same delays: tests can rely on a seeded Rand.
	a := &Client{opts: o, rnd: rand.New(rand.NewPCG(1, 1))}
	b := &Client{opts: o, rnd: rand.New(rand.NewPCG(1, 1))}
	for n := range 10 {
		if a.backoff(n) != b.backoff(n) {
			t.Fatal("a seeded Rand gave different delays")
		}
	}
	// A huge attempt count does not overflow.
	if d := c.backoff(1 << 20); d < 0 || d >= o.MaxDelay {
		t.Fatalf("attempt 2^20: %v", d)
	}
}

// TestIsStop lists what stops the reconnect loop.
func TestIsStop(t *testing.T) {
	noToken := &Client{}
	withToken := &Client{opts: Options{GetToken: func(context.Context) (string, error) { return "", nil }}}
	for _, tc := range []struct {
		err             error
		stop, stopToken bool
	}{
		{&HandshakeError{http.StatusUnauthorized}, true, true},
		{&HandshakeError{http.StatusForbidden}, true, true},
		{&HandshakeError{http.StatusNotFound}, true, true},
		{&HandshakeError{http.StatusTooManyRequests}, false, false},
		{&HandshakeError{http.StatusServiceUnavailable}, false, false},
		{&CloseError{1000, "Connection Closed Normally"}, true, true},
		{&CloseError{1001, "server shutting down"}, false, false},
		{&CloseError{1008, "token expired"}, true, false},
		{&CloseError{1008, "message rate exceeded"}, true, true},
		{&CloseError{1009, ""}, true, true},
		{&CloseError{1011, ""}, false, false},
		{&CloseError{1012, "node lost its cluster lease"}, false, false},
		{&CloseError{1013, "slow consumer"}, false, false},
		{fmt.Errorf("switchboard: connection lost: %w", fmt.Errorf("EOF")), false, false},
		{errNoSubprotocol, true, true},
	} {
		if got := noToken.isStop(tc.err); got != tc.stop {
			t.Errorf("%v without GetToken: stop %v, want %v", tc.err, got, tc.stop)
		}
		if got := withToken.isStop(tc.err); got != tc.stopToken {
			t.Errorf("%v with GetToken: stop %v, want %v", tc.err, got, tc.stopToken)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	enc := func(s string) string { return "x." + base64.RawURLEncoding.EncodeToString([]byte(s)) + ".y" }
	for tok, want := range map[string]int64{
		enc(`{"exp":1700000000}`):   1700000000,
		enc(`{"exp":1700000000.9}`): 1700000000,
		enc(`{"sub":"a"}`):          -1,
		enc(`{"exp":-1}`):           -1,
		enc(`{"exp":1e300}`):        -1,
		enc(`{"exp":"1700000000"}`): -1,
		"not a jwt":                 -1,
		"a.%%%.c":                   -1,
		enc(`[1]`):                  -1,
	} {
		got, ok := tokenExpiry(tok)
		if (want < 0) == ok || ok && got.Unix() != want {
			t.Errorf("tokenExpiry(%q) = %v %v; want %d", tok, got, ok, want)
		}
	}
}

func TestDecodeFrame(t *testing.T) {
	for frame, want := range map[string]string{
		`{"type":"pub","channel":"c","offset":1,"data":{"a": 1}}`: `{"a": 1}`,
		`{"type":"pub","channel":"c","text":"hi"}`:                `hi`,
		`{"type":"pub","channel":"c","b64":"/wAB"}`:               "\xff\x00\x01",
		`{"type":"message","data":null}`:                          `null`,
	} {
		m, err := decodeFrame([]byte(frame))
		if err != nil || string(m.payload) != want {
			t.Errorf("%s: payload %q %v; want %q", frame, m.payload, err, want)
		}
	}
	for _, bad := range []string{`[]`, `{}`, `{"type":"pub"}`, `{"type":"error"}`, `{"type":"reply"}`,
		`{"type":"pub","channel":"c","b64":"!!"}`, `{"type":"pub","channel":"c","offset":-1}`, `nul`} {
		if _, err := decodeFrame([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzDecodeFrame: no frame makes the decoder panic, and a frame it
// accepts has what the reader relies on.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{`{"type":"pub","channel":"c","epoch":"e","offset":3,"data":{"a":1}}`,
		`{"type":"reply","id":1,"result":{"epoch":"e","offset":1,"recovered":true,"missed":2}}`,
		`{"type":"reply","id":2,"error":{"code":403,"message":"no"}}`, `{"type":"message","b64":"AAEC"}`,
		`{"type":"join","channel":"c","member":{"connectionId":"x","user":"u"}}`, `{"type":"connected","version":1,"connectionId":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeFrame(b)
		if err != nil {
			return
		}
		switch m.Type {
		case "":
			t.Fatal("accepted a frame without a type")
		case "error":
			if m.Error == nil {
				t.Fatal("error without its object")
			}
		case "reply":
			if m.ID <= 0 {
				t.Fatal("reply without an id")
			}
		case "pub", "join", "leave", "subscribed", "unsubscribed":
			if m.Channel == "" {
				t.Fatal("no channel")
			}
		}
	})
}

// FuzzTokenExpiry: any string is read without a panic, and an expiry it
// finds is in the range the server accepts.
func FuzzTokenExpiry(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		exp, ok := tokenExpiry(tok)
		if ok && (exp.Unix() < 0 || exp.Unix() > 253402300799) {
			t.Fatalf("expiry %v out of range", exp)
		}
	})
}
