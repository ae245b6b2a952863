package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"reflect"
	"time"

	"github.com/switchboardhq/switchboard/internal/auth/authorizer"
	"github.com/switchboardhq/switchboard/internal/auth/jwtauth"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/protocol"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// Rejection reasons of authentication (limits.go has the others).
const (
	rejectUnauthorized    = "unauthorized"
	rejectForbidden       = "forbidden"
	rejectAuthorizerError = "authorizer_error"
)

// connectAuth authenticates handshakes: a JWT, then a REQUEST authorizer,
// each when configured. Its zero value admits everyone.
type connectAuth struct {
	jwt         *jwtauth.Verifier
	jwtRes      *resource // closes jwt (its JWKS refresher)
	jwtOptional bool
	authz       *authorizer.Authorizer
	methodARN   string
}

// fakeAccount is the account id in the method ARN that authorizers see:
// Switchboard has no AWS account.
const fakeAccount = "000000000000"

// newConnectAuth builds the authentication of c for st, whose
// integrations are built. The JWT verifier and the authorizer of old (nil:
// none) are reused when their configuration is unchanged (and, for the
// authorizer, its integration too); a verifier with key files is rebuilt,
// since the files may have changed. res lists the resources built anew.
func (g *Gateway) newConnectAuth(c *config.API, st *apiState, old *apiState) (ca connectAuth, res []*resource, err error) {
	if j := c.Auth.JWT; j != nil {
		if old != nil && old.auth.jwt != nil && reflect.DeepEqual(old.cfg.Auth.JWT, j) && !hasKeyFiles(j) {
			ca.jwt, ca.jwtRes = old.auth.jwt, old.auth.jwtRes
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			v, err := jwtauth.New(ctx, jwtauth.Options{Config: *j, Logger: g.log, Now: g.now})
			cancel()
			if err != nil {
				return connectAuth{}, nil, fmt.Errorf("auth.jwt: %w", err)
			}
			ca.jwt = v
			ca.jwtRes = &resource{name: "JWT verifier", close: func(context.Context) { v.Close() }}
			res = append(res, ca.jwtRes)
		}
		ca.jwtOptional = j.Optional
		st.res = append(st.res, ca.jwtRes)
	}
	if az := c.Auth.Authorizer; az != nil {
		e := st.entries[az.Integration]
		if e == nil {
			return connectAuth{}, res, fmt.Errorf("auth.authorizer.integration: unknown integration %q", az.Integration)
		}
		if old != nil && old.auth.authz != nil && reflect.DeepEqual(old.cfg.Auth.Authorizer, az) && old.entries[az.Integration] == e {
			ca.authz = old.auth.authz // and its decision cache
		} else {
			v, err := authorizer.New(authorizer.Options{Config: *az, Invoker: e.in, Now: g.now, Logger: g.log})
			if err != nil {
				return connectAuth{}, res, fmt.Errorf("auth.authorizer: %w", err)
			}
			ca.authz = v
		}
		region := os.Getenv("AWS_REGION")
		if region == "" {
			region = "us-east-1"
		}
		ca.methodARN = authorizer.MethodARN(region, fakeAccount, c.ID, c.Stage)
	}
	return ca, res, nil
}

// hasKeyFiles reports whether a JWT configuration reads a key file.
func hasKeyFiles(j *config.JWT) bool {
	for _, k := range j.Keys {
		if k.PublicKeyFile != "" {
			return true
		}
	}
	return false
}

// identity is who authentication says a connecting client is.
type identity struct {
	user      string
	expiresAt time.Time // of the JWT; zero when none
}

// authenticate runs the JWT check and the authorizer for a handshake and
// fills c.info.Authorizer. On refusal it returns the HTTP status and the
// counted reason.
func (g *Gateway) authenticate(ctx context.Context, st *apiState, c *Conn, r *http.Request) (identity, int, string) {
	a := st.api
	var id identity
	if v := st.auth.jwt; v != nil {
		ident, err := v.Authenticate(r)
		switch {
		case errors.Is(err, jwtauth.ErrNoToken) && st.auth.jwtOptional:
		case err != nil:
			var je *jwtauth.Error
			why := "no token"
			if errors.As(err, &je) {
				why = je.Reason
			}
			g.log.Info("handshake unauthenticated", "api", a.id, "reason", why, "sourceIp", c.info.Identity.SourceIP)
			return id, http.StatusUnauthorized, rejectUnauthorized
		default:
			c.info.Authorizer = ident.Context
			id.user, id.expiresAt = ident.User, ident.ExpiresAt
		}
	}
	if az := st.auth.authz; az != nil {
		actx, span := g.authorizerSpan(ctx, c, "connect", st.cfg.Auth.Authorizer.Integration)
		d, err := az.Authorize(actx, &c.info, connectHeaders(r, g.tls), queryParams(r.URL.RawQuery), st.auth.methodARN)
		if span != nil {
			outcome, status := outcomeOK, 0
			if err != nil {
				outcome, status = outcomeDenied, authorizer.Status(err)
				if status != http.StatusUnauthorized && status != http.StatusForbidden {
					outcome = outcomeError
				}
			}
			endSpan(span, outcome, status, err)
		}
		if err != nil {
			status := authorizer.Status(err)
			reason := rejectAuthorizerError
			switch status {
			case http.StatusUnauthorized:
				reason = rejectUnauthorized
			case http.StatusForbidden:
				reason = rejectForbidden
			}
			level := slog.LevelInfo
			if reason == rejectAuthorizerError {
				level = slog.LevelWarn
			}
			g.log.Log(ctx, level, "authorizer refused the handshake", "api", a.id, "status", status,
				"sourceIp", c.info.Identity.SourceIP, "error", err.Error())
			return id, status, reason
		}
		merged := maps.Clone(c.info.Authorizer)
		if merged == nil {
			merged = make(map[string]any, len(d.Context))
		}
		maps.Copy(merged, d.Context)
		c.info.Authorizer = merged
		if id.user == "" {
			id.user = d.PrincipalID
		}
	}
	return id, 0, ""
}

// scheduleExpiry closes the connection when its token expires (1008
// "token expired"), replacing an earlier deadline (a refresh); a zero at
// removes the deadline. The timer is stopped when the connection ends.
func (c *Conn) scheduleExpiry(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	if at.IsZero() || c.ended {
		return
	}
	c.expiry = time.AfterFunc(time.Until(at), func() {
		c.ws.Close(ws.ClosePolicyViolation, "token expired")
	})
}

// stopExpiry stops the expiry timer for good (the connection ended).
func (c *Conn) stopExpiry() {
	c.mu.Lock()
	c.ended = true
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
}

// refresh replaces a switchboard.v1 connection's token: it must verify and
// name the same user; the connection's deadline moves to its expiry.
func (g *Gateway) refresh(c *Conn, msg *protocol.Message) {
	v := c.cur.auth.jwt
	if v == nil {
		c.replyError(msg.ID, &protocol.Error{Code: protocol.CodeBadRequest, Message: "this API does not authenticate with JWT"})
		return
	}
	ident, err := v.Verify(g.ctx, msg.Token)
	if err != nil {
		why := "invalid token"
		var je *jwtauth.Error
		if errors.As(err, &je) {
			why = je.Reason
		}
		c.replyError(msg.ID, &protocol.Error{Code: protocol.CodeForbidden, Message: why})
		return
	}
	if ident.User != c.member.User() {
		c.replyError(msg.ID, &protocol.Error{Code: protocol.CodeForbidden, Message: "the token names another user"})
		return
	}
	c.scheduleExpiry(ident.ExpiresAt)
	c.replyResult(msg.ID, nil)
}
