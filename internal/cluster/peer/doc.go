// Package peer is the internal endpoint between the nodes of a cluster
// (docs/decisions/0024 §2.4, §7): a management call on a connection that
// another node holds is forwarded to that node over HTTP.
//
// Client implements cluster.Forwarder: POST Path+op to the peer's
// Node.Advertise, keep-alive connections per peer on one http.Transport,
// the call's context deadline capped at Options.Timeout (5 s). Server is the
// http.Handler on cluster.internal.listen that admits a request only when
// every configured check passes — the HMAC-SHA256 signature of
// Options.Secret within MaxSkew, a client certificate of the CA of
// Options.TLS (LoadTLS builds both configurations from the files of
// cluster.internal.tls) — and then calls the node's cluster.Local.
//
// Bodies use a small binary framing (wire.go). Errors cross by code: the
// server answers 422 with the text of the first sentinel of Options.Errors
// (or of the cluster's own errors) that the Local's error matches, and the
// client returns that same sentinel value, so errors.Is and == hold on the
// calling side. Any other error of the Local is 500 "internal" and comes
// back wrapping ErrRemote with the owner's message. A peer that refuses the
// TCP connection (or answers for another incarnation) gives
// cluster.ErrNodeGone; no answer in time, a 5xx without a code, or refused
// credentials give cluster.ErrUnavailable.
//
// With Options.Metrics (NewMetrics), the client counts forwarded calls by
// op and outcome (switchboard_cluster_forwards_total) and times them
// (switchboard_cluster_forward_seconds), and the server counts the requests
// it refused (switchboard_cluster_internal_refused_total).
//
// Client and Server are safe for concurrent use. The Server passes the
// request body's bytes to Local.Post and Local.User as the data (not
// reused afterwards), so the Local may keep them.
package peer
