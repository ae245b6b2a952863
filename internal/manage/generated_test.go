package manage

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

func TestGenerateKey(t *testing.T) {
	g := NewGeneratedKeys()
	if _, err := g.Generate(); err == nil {
		t.Error("Generate() without a stage succeeded")
	}
	if _, err := g.Generate("prod", ""); err == nil {
		t.Error("Generate with an empty stage succeeded")
	}
	a, err := g.Generate("prod")
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.Generate("prod", "dev")
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`^SBWK[A-Z2-7]{16}$`)
	secret := regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
	for _, k := range []AccessKey{a, b} {
		if !id.MatchString(k.ID) || !secret.MatchString(k.Secret) {
			t.Errorf("key %q / %q: want an AWS-shaped id and secret", k.ID, k.Secret)
		}
	}
	if a.ID == b.ID || a.Secret == b.Secret {
		t.Error("two generated keys are alike")
	}
	if len(b.Stages) != 2 || g.Len() != 2 {
		t.Errorf("stages %v, len %d", b.Stages, g.Len())
	}
	g.Revoke(a.ID)
	g.Revoke("unknown")
	if g.Len() != 1 {
		t.Errorf("len %d after Revoke", g.Len())
	}
}

// A generated key is verified with SigV4 like a configured one, from
// loopback or not, with or without configured keys: accepted on its own
// stage, refused on another, refused with a wrong secret, refused once
// revoked. Keys generated after the Handler was built count at once, and a
// Handler built from another Auth (a reload of the configured keys) with
// the same set keeps them.
func TestGeneratedKeysVerified(t *testing.T) {
	const prodConn, devConn = "/prod/@connections/R1kmxc2VNjMCFIA%3D", "/dev/@connections/R1kmxc2VNjMCFIA%3D"
	now := func() time.Time { return signTime }
	for _, tc := range []struct {
		name string
		auth Auth
	}{
		{"no configured keys, loopback off", Auth{Now: now}},
		{"no configured keys, loopback on", Auth{AllowLoopback: true, Now: now}},
		{"configured keys, loopback off", sigV4Auth(false)},
		{"configured keys, loopback on", sigV4Auth(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGeneratedKeys()
			tc.auth.Generated = g
			srv := newTestServer(t, newTestBackend(), tc.auth)
			k, err := g.Generate("prod") // after NewHandler
			if err != nil {
				t.Fatal(err)
			}
			if r := sendSigned(t, srv, signedReq{method: "GET", target: prodConn, id: k.ID, secret: k.Secret}); r.status != http.StatusOK {
				t.Fatalf("own stage: %d %s", r.status, r.body)
			}
			checkError(t, sendSigned(t, srv, signedReq{method: "GET", target: devConn, id: k.ID, secret: k.Secret}), 403, "ForbiddenException",
				`User: `+k.ID+` is not authorized to perform: execute-api:ManageConnections on stage "dev"`)
			checkError(t, sendSigned(t, srv, signedReq{method: "GET", target: prodConn, id: k.ID, secret: secretAK}), 403, "ForbiddenException",
				"The request signature we calculated does not match the signature you provided.")

			// A new Handler from other configured keys and the same set.
			reloaded := tc.auth
			reloaded.AccessKeys = []AccessKey{{ID: "AKIARELOADED00000001", Secret: secretAK2}}
			srv2 := newTestServer(t, newTestBackend(), reloaded)
			if r := sendSigned(t, srv2, signedReq{method: "GET", target: prodConn, id: k.ID, secret: k.Secret}); r.status != http.StatusOK {
				t.Fatalf("after a reload: %d %s", r.status, r.body)
			}

			g.Revoke(k.ID)
			r := sendSigned(t, srv, signedReq{method: "GET", target: prodConn, id: k.ID, secret: k.Secret})
			if tc.auth.AllowLoopback && len(tc.auth.AccessKeys) == 0 {
				// No key of the kind is configured: loopback admits what
				// it cannot judge, as it did before any key was generated.
				if r.status != http.StatusOK {
					t.Fatalf("revoked key from loopback with nothing configured: %d %s", r.status, r.body)
				}
				return
			}
			checkError(t, r, 403, "ForbiddenException", msgUnknownAccessKey)
		})
	}
}

// With no configured access keys and loopback on, a signature by a key
// that is neither configured nor generated is still admitted as if absent
// (an unmodified SDK with any credentials, on a laptop), even when
// generated keys exist.
func TestGeneratedKeysKeepLoopbackDevelopment(t *testing.T) {
	g := NewGeneratedKeys()
	if _, err := g.Generate("prod"); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, newTestBackend(), Auth{AllowLoopback: true, Now: func() time.Time { return signTime }, Generated: g})
	if r := sendSigned(t, srv, signedReq{method: "GET", target: "/prod/@connections/R1kmxc2VNjMCFIA%3D", id: "AKIAANYTHING00000000", secret: "x"}); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	srv = newTestServer(t, newTestBackend(), Auth{Now: func() time.Time { return signTime }, Generated: g})
	checkError(t, sendSigned(t, srv, signedReq{method: "GET", target: "/prod/@connections/R1kmxc2VNjMCFIA%3D", id: "AKIAANYTHING00000000", secret: "x"}),
		403, "ForbiddenException", msgUnknownAccessKey)
}
