package manage

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"sync"

	"github.com/switchboardhq/switchboard/internal/auth/sigv4"
)

// GeneratedKeyPrefix starts the id of every generated access key, so that
// logs and a worker's AWS_ACCESS_KEY_ID tell it from a configured key.
const GeneratedKeyPrefix = "SBWK"

// GeneratedKeys are SigV4 access keys that Switchboard makes for itself,
// at run time, to give to the workers of its function integrations
// (function.credentials: generated): each is made from crypto/rand, held
// in memory only, never written to disk or logged (its id is), and
// allowed on the stages it was made for. They are apart from the
// configured management.accessKeys: a new Auth (a configuration reload)
// that is given the same *GeneratedKeys keeps them, whatever keys it
// configures. The zero value is not usable; call NewGeneratedKeys. Safe
// for concurrent use.
type GeneratedKeys struct {
	mu   sync.RWMutex
	keys map[string]accessKey // by access key id
}

// NewGeneratedKeys returns an empty set.
func NewGeneratedKeys() *GeneratedKeys {
	return &GeneratedKeys{keys: make(map[string]accessKey)}
}

// idEncoding writes an access key id's random part in AWS's alphabet of
// ids (upper-case letters and digits).
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Generate makes a key pair allowed on stages (at least one) and adds it
// to the set: the id is GeneratedKeyPrefix and 16 characters (80 random
// bits), 20 characters as AWS's; the secret is 40 characters of base64
// (240 random bits), as AWS's.
func (g *GeneratedKeys) Generate(stages ...string) (AccessKey, error) {
	if len(stages) == 0 {
		return AccessKey{}, errors.New("generate an access key: no stage given; a generated key is limited to its stages")
	}
	for _, s := range stages {
		if s == "" {
			return AccessKey{}, errors.New("generate an access key: empty stage")
		}
	}
	var idBytes [10]byte
	var secretBytes [30]byte
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(idBytes[:])
	_, _ = rand.Read(secretBytes[:])
	k := AccessKey{
		ID:     GeneratedKeyPrefix + idEncoding.EncodeToString(idBytes[:]),
		Secret: base64.StdEncoding.EncodeToString(secretBytes[:]),
		Stages: append([]string(nil), stages...),
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.keys[k.ID]; dup { // 2^-80: refuse rather than replace
		return AccessKey{}, errors.New("generate an access key: id collision; try again")
	}
	g.keys[k.ID] = accessKey{secret: sigv4.NewSecret(k.Secret), stages: newStageSet(k.Stages)}
	return k, nil
}

// Revoke removes the key with this id; requests it signs are refused from
// then on. Revoking an unknown id does nothing.
func (g *GeneratedKeys) Revoke(id string) {
	g.mu.Lock()
	delete(g.keys, id)
	g.mu.Unlock()
}

// Len is the number of keys in the set.
func (g *GeneratedKeys) Len() int {
	if g == nil {
		return 0
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.keys)
}

// lookup returns the key with this id. A nil set holds none.
func (g *GeneratedKeys) lookup(id string) (accessKey, bool) {
	if g == nil {
		return accessKey{}, false
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	k, ok := g.keys[id]
	return k, ok
}
