package manage

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBatch(t *testing.T) {
	b := newChannelBackend()
	for _, j := range []string{"chat:a c1=", "chat:a c3=", "plain c4="} {
		ch, id, _ := strings.Cut(j, " ")
		if err := b.Join(t.Context(), "prod", ch, id); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServer(t, b, Auth{AllowLoopback: true})
	body := `{"operations": [
		{"channel": "chat:a", "data": {"n": 1}},
		{"channel": "chat:a", "text": "two", "exclude": "c1="},
		{"data": [3], "channel": "plain"},
		{"user": "alice", "b64": "/wA="},
		{"connectionId": "c4=", "text": ""},
		{"broadcast": true, "data": null, "exclude": "c2="},
		{"broadcast": true, "text": "é"},
		{"channel": "chat:a", "data": "last"}
	]}`
	checkJSON(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(body), http.Header{"Content-Type": {"application/json"}}),
		`{"results":[`+
			`{"recipients":2,"epoch":"ep1","offset":1},`+
			`{"recipients":1,"epoch":"ep1","offset":2},`+
			`{"recipients":1},`+
			`{"recipients":2},`+
			`{"recipients":1},`+
			`{"recipients":3},`+
			`{"recipients":4},`+
			`{"recipients":2,"epoch":"ep1","offset":3}]}`)
	want := []fakeCall{
		{op: "join", stage: "prod", target: "chat:a c1="},
		{op: "join", stage: "prod", target: "chat:a c3="},
		{op: "join", stage: "prod", target: "plain c4="},
		{op: "publish", stage: "prod", target: "chat:a", data: []byte(`{"n": 1}`)},
		{op: "publish", stage: "prod", target: "chat:a", data: []byte("two"), exclude: "c1="},
		{op: "publish", stage: "prod", target: "plain", data: []byte("[3]")},
		{op: "user", stage: "prod", target: "alice", data: []byte{0xff, 0}},
		{op: "post", stage: "prod", target: "c4="},
		{op: "broadcast", stage: "prod", data: []byte("null"), exclude: "c2="},
		{op: "broadcast", stage: "prod", data: []byte("é")},
		{op: "publish", stage: "prod", target: "chat:a", data: []byte(`"last"`)},
	}
	if diff := cmp.Diff(want, b.callsSnapshot(), cmp.AllowUnexported(fakeCall{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	t.Run("empty", func(t *testing.T) {
		checkJSON(t, do(t, srv, "POST", "/prod/%40batch", strings.NewReader(`{"operations":[]}`), nil), `{"results":[]}`)
	})
}

// TestBatchOperationErrors: an operation that fails gets the error a
// single request would, and the others still run.
func TestBatchOperationErrors(t *testing.T) {
	b := newChannelBackend()
	srv := newTestServer(t, lenientLimit{b}, Auth{AllowLoopback: true})
	big := strings.Repeat("z", testMaxBytes+1) // lenientLimit admits it, the backend does not
	body := `{"operations":[
		{"connectionId": "gone=", "text": "x"},
		{"connectionId": "bad!", "text": "x"},
		{"connectionId": "", "text": "x"},
		{"channel": "a b", "text": "x"},
		{"channel": "nope:x", "text": "x"},
		{"channel": "boom", "text": "x"},
		{"channel": "chat:a", "text": "x", "exclude": "bad!"},
		{"broadcast": true, "text": "x", "exclude": "bad!"},
		{"user": "", "text": "x"},
		{"user": "boom", "text": "x"},
		{"user": "bob", "text": "` + big + `"},
		{"channel": "chat:a", "text": "ok"}
	]}`
	errJSON := func(typ, msg string) string {
		return `{"error":{"type":"` + typ + `","message":"` + msg + `"}}`
	}
	badReq := func(msg string) string { return errJSON("BadRequestException", msg) }
	internal := errJSON("InternalServerErrorException", msgInternal)
	checkJSON(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(body), nil), `{"results":[`+strings.Join([]string{
		errJSON("GoneException", msgGone),
		badReq(msgInvalidID),
		badReq(msgInvalidID),
		badReq(msgInvalidChannel),
		badReq(msgNoNamespace),
		internal,
		badReq(msgInvalidExclude),
		badReq(msgInvalidExclude),
		badReq(msgInvalidUser),
		internal,
		errJSON("PayloadTooLargeException", "Payload too large: the data is larger than this stage's limit of 128 bytes"),
		`{"recipients":0,"epoch":"ep1","offset":1}`,
	}, ",")+`]}`)
	if calls := b.callsSnapshot(); len(calls) != 1 || string(calls[0].data) != "ok" {
		t.Errorf("calls = %+v, want only the last publish", calls)
	}
}

func TestBatchInvalid(t *testing.T) {
	op := `{"channel":"c","text":"x"}`
	many := `{"operations":[` + strings.Repeat(op+",", maxBatchOps) + op + `]}`
	tests := []struct {
		name, body string
		msg        string
	}{
		{"empty", ``, "Malformed batch body: the JSON ends early"},
		{"not JSON", `nope`, "Malformed batch body: invalid character 'o' in literal null (expecting 'u') (at byte 2)"},
		{"array", `[]`, "Invalid batch: the body must be a JSON object"},
		{"string", `"x"`, "Invalid batch: the body must be a JSON object"},
		{"null", `null`, "Invalid batch: the body must be a JSON object"},
		{"no operations", `{}`, `Invalid batch: no "operations" field`},
		{"unknown field", `{"operations":[],"x":1}`, `Invalid batch: unknown field "x"`},
		{"capitalised", `{"Operations":[]}`, `unknown field "Operations"`},
		{"operations twice", `{"operations":[],"operations":[]}`, `field "operations" given twice`},
		{"operations not an array", `{"operations":{}}`, "operations must be an array"},
		{"operations null", `{"operations":null}`, "operations must be an array"},
		{"truncated", `{"operations":[` + op, "Malformed batch body"},
		{"trailing data", `{"operations":[]} {}`, "more data after the JSON object"},
		{"trailing garbage", `{"operations":[]}x`, "more data after the JSON object"},
		{"too many", many, "Invalid batch: more than 1000 operations"},
		{"not an object", `{"operations":[` + op + `,3]}`, "operations[1]: want an object"},
		{"no target", `{"operations":[{"text":"x"}]}`, "operations[0]: no target"},
		{"no payload", `{"operations":[{"channel":"c"}]}`, "operations[0]: no payload"},
		{"empty op", `{"operations":[{}]}`, "operations[0]: no target"},
		{"two targets", `{"operations":[` + op + `,{"channel":"c","user":"u","text":"x"}]}`, `operations[1]: two targets, "channel" and "user"`},
		{"broadcast and connection", `{"operations":[{"broadcast":true,"connectionId":"c","text":"x"}]}`, `two targets, "broadcast" and "connectionId"`},
		{"two payloads", `{"operations":[{"channel":"c","data":1,"b64":""}]}`, `operations[0]: two payloads, "data" and "b64"`},
		{"repeated target", `{"operations":[{"channel":"c","channel":"d","text":"x"}]}`, `operations[0]: field "channel" given twice`},
		{"repeated payload", `{"operations":[{"channel":"c","text":"x","text":"y"}]}`, `field "text" given twice`},
		{"repeated exclude", `{"operations":[{"channel":"c","text":"x","exclude":"a","exclude":"b"}]}`, `field "exclude" given twice`},
		{"unknown target", `{"operations":[{"topic":"c","text":"x"}]}`, `operations[0]: unknown field "topic"`},
		{"case", `{"operations":[{"Channel":"c","text":"x"}]}`, `unknown field "Channel"`},
		{"channel not string", `{"operations":[{"channel":1,"text":"x"}]}`, "channel must be a string"},
		{"user null", `{"operations":[{"user":null,"text":"x"}]}`, "user must be a string"},
		{"connectionId array", `{"operations":[{"connectionId":["a"],"text":"x"}]}`, "connectionId must be a string"},
		{"broadcast false", `{"operations":[{"broadcast":false,"text":"x"}]}`, "broadcast must be true"},
		{"broadcast string", `{"operations":[{"broadcast":"true","text":"x"}]}`, "broadcast must be true"},
		{"text not string", `{"operations":[{"channel":"c","text":1}]}`, "text must be a string"},
		{"b64 not string", `{"operations":[{"channel":"c","b64":null}]}`, "b64 must be a string"},
		{"b64 invalid", `{"operations":[{"channel":"c","b64":"!!"}]}`, "operations[0]: b64 is not standard base64"},
		{"b64 unpadded", `{"operations":[{"channel":"c","b64":"/wA"}]}`, "b64 is not standard base64"},
		{"b64 line break", `{"operations":[{"channel":"c","b64":"/w\nA="}]}`, "b64 is not standard base64"},
		{"b64 url alphabet", `{"operations":[{"channel":"c","b64":"_wA="}]}`, "b64 is not standard base64"},
		{"exclude not string", `{"operations":[{"channel":"c","text":"x","exclude":1}]}`, "exclude must be a string"},
		{"exclude with user", `{"operations":[{"user":"u","text":"x","exclude":"c"}]}`, "exclude applies to channel and broadcast operations only"},
		{"exclude with connection", `{"operations":[{"connectionId":"c","text":"x","exclude":""}]}`, "exclude applies to channel and broadcast"},
		{"bad value inside", `{"operations":[{"channel":"c","data":[1,}]}`, "Malformed batch body: invalid character '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newChannelBackend()
			srv := newTestServer(t, b, Auth{AllowLoopback: true})
			checkError(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(tt.body), nil), 400, "BadRequestException", tt.msg)
			if calls := b.callsSnapshot(); len(calls) != 0 {
				t.Errorf("backend got %d calls, want none", len(calls))
			}
		})
	}
}

func TestBatchSizeLimits(t *testing.T) {
	b := newChannelBackend()
	srv := newTestServer(t, b, Auth{AllowLoopback: true})

	// Each payload is checked against the stage's limit before anything
	// runs.
	exact := strings.Repeat("z", testMaxBytes)
	over := `{"channel":"c","text":"` + exact + `z"}`
	for _, tt := range []struct{ name, body, msg string }{
		{"text", `{"operations":[{"channel":"c","text":"` + exact + `"},` + over + `]}`, "operations[1]: Payload too large"},
		{"data", `{"operations":[{"channel":"c","data":"` + exact[2:] + `"},{"user":"u","data":"` + exact + `"}]}`, "operations[1]: Payload too large"},
		{"b64", `{"operations":[{"broadcast":true,"b64":"` + strings.Repeat("AAAA", testMaxBytes/3+1) + `"}]}`, "operations[0]: Payload too large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(tt.body), nil), 413, "PayloadTooLargeException", tt.msg)
			checkError(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(tt.body), nil), 413, "PayloadTooLargeException", "limit of 64 bytes")
		})
	}
	if calls := b.callsSnapshot(); len(calls) != 0 {
		t.Errorf("backend got %d calls, want none", len(calls))
	}
	checkJSON(t, do(t, srv, "POST", "/prod/@batch", strings.NewReader(`{"operations":[{"channel":"c","text":"`+exact+`"}]}`), nil), `{"results":[{"recipients":0}]}`)

	// The body itself: at most maxBatchBytes, by Content-Length or as read.
	pad := func(n int) []byte {
		head := []byte(`{"operations":[]}`)
		return append(head, bytes.Repeat([]byte{' '}, n-len(head))...)
	}
	checkJSON(t, do(t, srv, "POST", "/prod/@batch", bytes.NewReader(pad(maxBatchBytes)), nil), `{"results":[]}`)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprint("too large chunked=", chunked), func(t *testing.T) {
			var body = bytes.NewReader(pad(maxBatchBytes + 1))
			var r response
			if chunked {
				r = do(t, srv, "POST", "/prod/@batch", unsized{body}, nil)
			} else {
				r = do(t, srv, "POST", "/prod/@batch", body, nil)
			}
			checkError(t, r, 413, "PayloadTooLargeException", "the batch body is larger than its limit of 16777216 bytes")
		})
	}
	checkError(t, do(t, srv, "POST", "/test/@batch", strings.NewReader(`{"operations":[]}`), nil), 403, "ForbiddenException", msgForbidden)
}

func TestDecodeBatchPayloads(t *testing.T) {
	ops, err := decodeBatch([]byte(`{"operations":[
		{"channel":"c","data":{ "a" : [1, 2] }},
		{"channel":"c","text":"h\u00e9\ud800"},
		{"channel":"c","b64":""},
		{"user":"u","text":""},
		{"connectionId":"id","data":"\u0041"},
		{"exclude":"","broadcast":true,"data":0}
	]}`), 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []batchOp{
		{target: targetChannel, name: "c", data: []byte(`{ "a" : [1, 2] }`)},
		{target: targetChannel, name: "c", data: []byte("hé\uFFFD")},
		{target: targetChannel, name: "c", data: []byte{}},
		{target: targetUser, name: "u", data: []byte{}},
		{target: targetConnection, name: "id", data: []byte(`"\u0041"`)},
		{target: targetBroadcast, data: []byte("0")},
	}
	if diff := cmp.Diff(want, ops, cmp.AllowUnexported(batchOp{}), cmpEmptyBytes); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
}

// cmpEmptyBytes treats nil and empty byte slices as equal.
var cmpEmptyBytes = cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })
