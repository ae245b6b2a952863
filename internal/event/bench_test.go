package event

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

var benchConn = &Connection{
	ID: "BFaT_fALIAMCKug=", APIID: "asasasas", Stage: "prod",
	DomainName:  "asasasas.execute-api.us-east-1.amazonaws.com",
	ConnectedAt: time.UnixMilli(1731332735513),
	Identity:    Identity{SourceIP: "166.90.225.1", UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36"},
}

var benchBody = []byte(`{"action": "chat", "message": "Hello from client, this is a typical chat message of a hundred bytes or so."}`)

// BenchmarkAppendJSONMessage is the hot path: one MESSAGE event encoded
// into a reused buffer.
func BenchmarkAppendJSONMessage(b *testing.B) {
	r := Message(benchConn, time.UnixMilli(1731332746514), "BFaVtH2HoAMFZEQ=", "BFaVtfGSIAMCKug=", "chat", benchBody, false)
	buf := r.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

// BenchmarkAppendJSONMessage4KiB: a larger body with characters to escape.
func BenchmarkAppendJSONMessage4KiB(b *testing.B) {
	body := make([]byte, 0, 4096)
	for len(body) < 4096 {
		body = append(body, `{"k": "v\u00e9 \"q\" é"}, `...)
	}
	r := Message(benchConn, time.UnixMilli(1731332746514), "BFaVtH2HoAMFZEQ=", "BFaVtfGSIAMCKug=", "chat", body, false)
	buf := r.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

// BenchmarkMessageEvent is what the gateway does per inbound message: two
// ids, the Request, and its encoding into a reused buffer.
func BenchmarkMessageEvent(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		r := Message(benchConn, time.Now(), NewID(), NewID(), "chat", benchBody, false)
		buf = r.AppendJSON(buf[:0])
	}
}

func BenchmarkAppendJSONConnect(b *testing.B) {
	r := Connect(benchConn, time.UnixMilli(1731324924561), "BFHPhFe3IAMF95g=", []HeaderField{
		{"Host", "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"},
		{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
		{"Sec-WebSocket-Key", "+W5xw47OHh3OTFsWKjGu9Q=="},
		{"Sec-WebSocket-Version", "13"},
		{"User-Agent", benchConn.Identity.UserAgent},
		{"X-Amzn-Trace-Id", "Root=1-6731ebfc-08e1e656421db73c5d2eef31"},
		{"X-Forwarded-For", "166.90.225.1"},
		{"X-Forwarded-Port", "443"},
		{"X-Forwarded-Proto", "https"},
	}, []QueryParam{{"token", "abc"}})
	buf := r.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
}

// BenchmarkEncodingJSONMessage is the same MESSAGE event through
// encoding/json and a struct, for comparison.
func BenchmarkEncodingJSONMessage(b *testing.B) {
	type identity struct {
		UserAgent string `json:"userAgent,omitempty"`
		SourceIP  string `json:"sourceIp"`
	}
	type rc struct {
		RouteKey          string   `json:"routeKey"`
		MessageID         string   `json:"messageId"`
		EventType         string   `json:"eventType"`
		ExtendedRequestID string   `json:"extendedRequestId"`
		RequestTime       string   `json:"requestTime"`
		MessageDirection  string   `json:"messageDirection"`
		Stage             string   `json:"stage"`
		ConnectedAt       int64    `json:"connectedAt"`
		RequestTimeEpoch  int64    `json:"requestTimeEpoch"`
		Identity          identity `json:"identity"`
		RequestID         string   `json:"requestId"`
		DomainName        string   `json:"domainName"`
		ConnectionID      string   `json:"connectionId"`
		APIID             string   `json:"apiId"`
	}
	type ev struct {
		RequestContext  rc     `json:"requestContext"`
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	b.ReportAllocs()
	for b.Loop() {
		now := time.UnixMilli(1731332746514)
		e := ev{RequestContext: rc{
			RouteKey: "chat", MessageID: "BFaVtfGSIAMCKug=", EventType: "MESSAGE", ExtendedRequestID: "BFaVtH2HoAMFZEQ=",
			RequestTime: FormatRequestTime(now), MessageDirection: "IN", Stage: benchConn.Stage,
			ConnectedAt: benchConn.ConnectedAt.UnixMilli(), RequestTimeEpoch: now.UnixMilli(),
			Identity:  identity{benchConn.Identity.UserAgent, benchConn.Identity.SourceIP},
			RequestID: "BFaVtH2HoAMFZEQ=", DomainName: benchConn.DomainName, ConnectionID: benchConn.ID, APIID: benchConn.APIID,
		}, Body: string(benchBody)}
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewID()
	}
}

func BenchmarkParseHTTPProxy(b *testing.B) {
	body := []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"ok\":true,\"n\":1}","isBase64Encoded":false}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHTTP(200, nil, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHTTPPlain(b *testing.B) {
	body := []byte(`{"type":"ack","id":"BFaVtfGSIAMCKug="}`)
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"38"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHTTP(200, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
