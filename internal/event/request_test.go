package event

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q, not ValidID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"R1kmxc2VNjMCFIA=", "BFHPhfCWIAMCKlQ=", "BFaT_fALIAMCKug=", "JC1dgf9yoAMCK-g=", "VNRUSeldSwMCIRQ=", "LLOXxdOBrPEAbBw="} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false for an AWS-captured id", id)
		}
	}
	for _, id := range []string{
		"", "R1kmxc2VNjMCFIA", "R1kmxc2VNjMCFIA==", "R1kmxc2VNjMCFI==", "R1kmxc2VNjMCFIAA",
		"R1kmxc2VNj+CFIA=", "R1kmxc2VNj/CFIA=", "R1kmxc2VNj CFIA=", "R1kmxc2VNjMCFIé=",
		"6f1c1d3e-9c7b-4f0a-8d6e-1b2c3d4e5f60",
	} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

func TestFormatRequestTime(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.UnixMilli(1731324924561), "11/Nov/2024:11:35:24 +0000"},
		{time.Date(2024, 1, 20, 6, 55, 8, 999e6, est), "20/Jan/2024:11:55:08 +0000"},
		{time.Date(2020, 12, 31, 23, 59, 59, 0, time.UTC), "31/Dec/2020:23:59:59 +0000"},
		{time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), "01/Mar/2021:00:00:00 +0000"},
	} {
		if got := FormatRequestTime(tc.in); got != tc.want {
			t.Errorf("FormatRequestTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var testConn = &Connection{
	ID: "R1kmxc2VNjMCFIA=", APIID: "api", Stage: "prod", DomainName: "example.com",
	ConnectedAt: time.UnixMilli(1705751697419),
	Identity:    Identity{SourceIP: "203.0.113.7"},
}

func decode(t *testing.T, r *Request) map[string]any {
	t.Helper()
	b := r.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %s", b)
	}
	var m map[string]any
	mustUnmarshal(t, b, &m)
	return m
}

func TestConnectHeadersGroupedAndSorted(t *testing.T) {
	r := Connect(testConn, time.UnixMilli(1705751697420), "R1koeHsUtjMFbRw=", []HeaderField{
		{"Host", "example.com"},
		{"x-custom", "1"},
		{"Cookie", "a=1"},
		{"X-Custom", "2"},
		{"cookie", "b=2"},
		{"Accept", ""},
		{"HeaderAuth1", "headerValue1"},
		{"X_Under", "u"},
	}, nil)
	m := decode(t, r)
	wantHeaders := map[string]any{
		"Host": "example.com", "x-custom": "2", "Cookie": "b=2", "Accept": "", "HeaderAuth1": "headerValue1", "X_Under": "u",
	}
	if diff := cmp.Diff(wantHeaders, m["headers"]); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	wantMulti := map[string]any{
		"Host": []any{"example.com"}, "x-custom": []any{"1", "2"}, "Cookie": []any{"a=1", "b=2"},
		"Accept": []any{""}, "HeaderAuth1": []any{"headerValue1"}, "X_Under": []any{"u"},
	}
	if diff := cmp.Diff(wantMulti, m["multiValueHeaders"]); diff != "" {
		t.Errorf("multiValueHeaders (-want +got):\n%s", diff)
	}
	keys := objectKeys(t, r.AppendJSON(nil))
	wantOrder := []string{"Accept", "Cookie", "HeaderAuth1", "Host", "x-custom", "X_Under"}
	if diff := cmp.Diff(wantOrder, keys["headers"]); diff != "" {
		t.Errorf("header order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOrder, keys["multiValueHeaders"]); diff != "" {
		t.Errorf("multiValueHeaders order (-want +got):\n%s", diff)
	}
	for _, k := range []string{"queryStringParameters", "multiValueQueryStringParameters", "body"} {
		if _, ok := m[k]; ok {
			t.Errorf("CONNECT without a query has %q", k)
		}
	}
	if diff := cmp.Diff([]string{"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}, keys[""]); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
}

// TestConnectManyHeaders takes the map path of groupFields.
func TestConnectManyHeaders(t *testing.T) {
	var hs []HeaderField
	for i := range 3 * groupFieldsLinearMax {
		hs = append(hs, HeaderField{Name: "X-H" + string(rune('a'+i%20)), Value: strings.Repeat("v", i)})
		hs = append(hs, HeaderField{Name: "x-h" + string(rune('A'+i%20)), Value: "w"})
	}
	r := Connect(testConn, time.UnixMilli(0), "R1koeHsUtjMFbRw=", hs, nil)
	m := decode(t, r)
	multi := m["multiValueHeaders"].(map[string]any)
	if len(multi) != 20 {
		t.Fatalf("got %d header names, want 20: %v", len(multi), multi)
	}
	if got := len(multi["X-Ha"].([]any)); got != 6 {
		t.Errorf("X-Ha has %d values, want 6", got)
	}
	if got := m["headers"].(map[string]any)["X-Ha"]; got != "w" {
		t.Errorf("headers[X-Ha] = %v, want last value w", got)
	}
}

func TestConnectQuery(t *testing.T) {
	for _, tc := range []struct {
		name       string
		query      []QueryParam
		wantSingle map[string]any
		wantMulti  map[string]any
	}{
		{"none", nil, nil, nil},
		{"empty slice", []QueryParam{}, nil, nil},
		{"one", []QueryParam{{"name", "me"}}, map[string]any{"name": "me"}, map[string]any{"name": []any{"me"}}},
		{
			"repeated and case-sensitive",
			[]QueryParam{{"a", "1"}, {"A", "x"}, {"a", "2"}, {"flag", ""}},
			map[string]any{"a": "2", "A": "x", "flag": ""},
			map[string]any{"a": []any{"1", "2"}, "A": []any{"x"}, "flag": []any{""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Connect(testConn, time.UnixMilli(0), "R1koeHsUtjMFbRw=", []HeaderField{{"Host", "h"}}, tc.query)
			m := decode(t, r)
			single, hasSingle := m["queryStringParameters"]
			multi, hasMulti := m["multiValueQueryStringParameters"]
			if tc.wantSingle == nil {
				if hasSingle || hasMulti {
					t.Fatalf("query maps present for an empty query: %v %v", single, multi)
				}
				return
			}
			if diff := cmp.Diff(tc.wantSingle, single); diff != "" {
				t.Errorf("queryStringParameters (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMulti, multi); diff != "" {
				t.Errorf("multiValueQueryStringParameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessageBody(t *testing.T) {
	for _, tc := range []struct {
		body     string
		isBase64 bool
	}{
		{"", false},
		{`{"action":"chat","text":"<b>\"hi\"</b> & \\ \u2028 é 😀"}`, false},
		{"line1\nline2\ttab\x00nul\x1f", false},
		{"aGVsbG8=", true},
		{"bad \xff\xfe utf-8 \xc3", false},
	} {
		r := Message(testConn, time.UnixMilli(1), "R1koeHsUtjMFbRw=", "R1knPc2ntjMCFIA=", "$default", []byte(tc.body), tc.isBase64)
		m := decode(t, r)
		if got, want := m["body"], fixUTF8(tc.body); got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
		if m["isBase64Encoded"] != tc.isBase64 {
			t.Errorf("isBase64Encoded = %v, want %v", m["isBase64Encoded"], tc.isBase64)
		}
		for _, k := range []string{"headers", "multiValueHeaders", "queryStringParameters"} {
			if _, ok := m[k]; ok {
				t.Errorf("MESSAGE has %q", k)
			}
		}
		if r.EventType() != EventMessage || r.RouteKey() != "$default" || r.RequestID() != "R1koeHsUtjMFbRw=" {
			t.Errorf("accessors: %q %q %q", r.EventType(), r.RouteKey(), r.RequestID())
		}
	}
}

func TestDisconnectEscapes(t *testing.T) {
	r := Disconnect(testConn, time.UnixMilli(1), "R1koeHsUtjMFbRw=", 4000, "bye \"now\"\n", `h"ost`)
	m := decode(t, r)
	rc := m["requestContext"].(map[string]any)
	if rc["disconnectStatusCode"] != float64(4000) || rc["disconnectReason"] != "bye \"now\"\n" {
		t.Errorf("requestContext: %v", rc)
	}
	if m["headers"].(map[string]any)["Host"] != `h"ost` {
		t.Errorf("headers: %v", m["headers"])
	}
	if r.EventType() != EventDisconnect || r.RouteKey() != RouteDisconnect {
		t.Errorf("accessors: %q %q", r.EventType(), r.RouteKey())
	}
}

func TestAuthorizer(t *testing.T) {
	c := *testConn
	c.Authorizer = map[string]any{
		"principalId":        "user",
		"integrationLatency": float64(0),
		"z":                  []any{1.5, "s", nil, true, map[string]any{"b": 1e21, "a": 1e-7}},
		"nan":                math.NaN(),
		"int":                42,
		"ss":                 map[string]string{"k": "<v>"},
		"ch":                 make(chan int),
		"struct":             struct{ A int }{7},
	}
	b := Message(&c, time.UnixMilli(1), "R1koeHsUtjMFbRw=", "R1knPc2ntjMCFIA=", "x", nil, false).AppendJSON(nil)
	var m map[string]any
	mustUnmarshal(t, b, &m)
	want := map[string]any{
		"principalId": "user", "integrationLatency": float64(0),
		"z":   []any{1.5, "s", nil, true, map[string]any{"b": 1e21, "a": 1e-7}},
		"nan": nil, "int": float64(42), "ss": map[string]any{"k": "<v>"}, "ch": nil,
		"struct": map[string]any{"A": float64(7)},
	}
	if diff := cmp.Diff(want, m["requestContext"].(map[string]any)["authorizer"]); diff != "" {
		t.Errorf("authorizer (-want +got):\n%s", diff)
	}
	if !bytes.Contains(b, []byte(`"authorizer":{"ch":null,"int":42,"integrationLatency":0,"nan":null,"principalId":"user","ss":{"k":"<v>"},"struct":{"A":7},"z":[1.5,"s",null,true,{"a":1e-7,"b":1e+21}]}`)) {
		t.Errorf("authorizer not sorted/encoded like encoding/json: %s", b)
	}
	keys := objectKeys(t, b)["requestContext"]
	if keys[len(keys)-1] != "authorizer" {
		t.Errorf("authorizer not last in requestContext: %v", keys)
	}
	if bytes.Contains(Message(testConn, time.UnixMilli(1), "a", "b", "x", nil, false).AppendJSON(nil), []byte("authorizer")) {
		t.Error("authorizer key written for a nil Authorizer")
	}
}

// encodingJSON is what encoding/json writes for s with HTML escaping off.
func encodingJSON(t testing.TB, s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// fixUTF8 replaces every byte that is not part of valid UTF-8 with U+FFFD,
// as encoding/json does when it writes a string.
func fixUTF8(s string) string {
	var b strings.Builder
	for _, r := range s { // range yields U+FFFD for each invalid byte
		b.WriteRune(r)
	}
	return b.String()
}

func TestErrorFrame(t *testing.T) {
	for _, tc := range []struct {
		msg, id, rid, want string
	}{
		{MessageInternalError, "VNRUSeldSwMCIRQ=", "VNRXVFJOywMF3-Q=", `{"message": "Internal server error", "connectionId":"VNRUSeldSwMCIRQ=", "requestId":"VNRXVFJOywMF3-Q="}`},
		{MessageTimeout, "Llf4ceE2NjMCF7w=", "Llf7PFSNNjMFZeA=", `{"message": "Endpoint request timed out", "connectionId":"Llf4ceE2NjMCF7w=", "requestId":"Llf7PFSNNjMFZeA="}`},
		{MessageForbidden, "a", "b", `{"message": "Forbidden", "connectionId":"a", "requestId":"b"}`},
		{"say \"hi\"\n", `i"d`, "r\\", `{"message": "say \"hi\"\n", "connectionId":"i\"d", "requestId":"r\\"}`},
	} {
		if got := string(ErrorFrame(tc.msg, tc.id, tc.rid)); got != tc.want {
			t.Errorf("ErrorFrame = %s\nwant           %s", got, tc.want)
		}
	}
}

func TestAppendJSONAppends(t *testing.T) {
	r := Message(testConn, time.UnixMilli(1), "R1koeHsUtjMFbRw=", "R1knPc2ntjMCFIA=", "$default", []byte("x"), false)
	prefix := []byte("prefix:")
	got := r.AppendJSON(prefix)
	if !bytes.HasPrefix(got, prefix) || !json.Valid(got[len(prefix):]) {
		t.Errorf("AppendJSON did not append: %s", got)
	}
	if r.Connection() != testConn {
		t.Error("Connection() is not the connection given")
	}
}
