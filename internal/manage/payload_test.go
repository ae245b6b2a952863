package manage

import (
	"encoding/json"
	"testing"
)

func TestPayloadJSON(t *testing.T) {
	tests := []struct {
		data []byte
		want string
	}{
		{[]byte(`{"a": [1, 2]}`), `{"data":{"a":[1,2]}}`},
		{[]byte(` 42 `), `{"data":42}`},
		{[]byte(`"s"`), `{"data":"s"}`},
		{[]byte(`null`), `{"data":null}`},
		{[]byte(`true`), `{"data":true}`},
		{[]byte(`hello`), `{"text":"hello"}`},
		{[]byte(`{"a":`), `{"text":"{\"a\":"}`},
		{[]byte(`1 2`), `{"text":"1 2"}`},
		{[]byte(``), `{"text":""}`},
		{[]byte("é\n"), `{"text":"é\n"}`},
		{[]byte("\xff\x00"), `{"b64":"/wA="}`},
		{[]byte("\"\xff\""), `{"b64":"Iv8i"}`}, // JSON syntax, but not UTF-8
	}
	for _, tt := range tests {
		got, err := json.Marshal(newPayloadJSON(tt.data))
		if err != nil {
			t.Fatalf("%q: %v", tt.data, err)
		}
		if string(got) != tt.want {
			t.Errorf("%q: got %s, want %s", tt.data, got, tt.want)
		}
	}
}
