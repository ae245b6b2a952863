package sigv4

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecretScopes verifies requests of several scopes (regions, days)
// with one Secret, in turns and concurrently: the signing key kept for one
// scope must never verify, or refuse, a request of another.
func TestSecretScopes(t *testing.T) {
	type signedReq struct {
		r    *http.Request
		body []byte
		now  time.Time
	}
	var reqs []signedReq
	for _, region := range []string{"us-east-1", "eu-west-3", "us-east-1"} {
		for _, at := range []time.Time{testTime, testTime.Add(24 * time.Hour)} {
			s := spec{target: "/prod/@connections/R1kmxc2VNjMCFIA%3D", body: `{"m":"` + region + `"}`, region: region}
			req := clientRequest(t, s)
			sign(t, req, s.body, "", region, Service, at)
			r, body := toServer(t, req)
			reqs = append(reqs, signedReq{r, body, at})
		}
	}
	good, bad := NewSecret(testSecret), NewSecret(testSecret+"x")
	check := func(t *testing.T, q signedReq) {
		s, err := Parse(q.r, q.now)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := s.VerifySecret(q.body, good); err != nil {
			t.Errorf("region %s at %s: %v: %s", s.Region(), q.now, err, message(err))
		}
		if _, err := s.VerifySecret(q.body, bad); !errors.Is(err, ErrSignature) {
			t.Errorf("region %s at %s with the wrong secret: %v, want ErrSignature", s.Region(), q.now, err)
		}
		if _, err := s.VerifySecret(append([]byte(nil), strings.ToUpper(string(q.body))...), good); !errors.Is(err, ErrSignature) {
			t.Errorf("region %s at %s with another body: %v, want ErrSignature", s.Region(), q.now, err)
		}
	}
	for range 2 {
		for _, q := range reqs {
			check(t, q)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				check(t, reqs[(i+j)%len(reqs)])
			}
		})
	}
	wg.Wait()
}

// BenchmarkVerifySecret is BenchmarkVerify with a prepared Secret, as the
// management API verifies: the signing key is derived once.
func BenchmarkVerifySecret(b *testing.B) {
	r, body := signed(b, spec{target: "/production/@connections/R1kmxc2VNjMCFIA%3D", body: strings.Repeat("x", 1024), header: http.Header{
		"Content-Type":          {"application/octet-stream"},
		"Amz-Sdk-Invocation-Id": {"6f1c2f0e-5d39-4a4e-9a53-2a7c7e2f4d11"},
		"Amz-Sdk-Request":       {"attempt=1; max=3"},
		"User-Agent":            {"aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux api/apigatewaymanagementapi#1.38.0"},
	}})
	secret := NewSecret(testSecret)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		s, err := Parse(r, testTime)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.VerifySecret(body, secret); err != nil {
			b.Fatal(err)
		}
	}
}
