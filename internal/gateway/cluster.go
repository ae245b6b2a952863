package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/event"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// This file is the gateway's side of a cluster (decision 0024 §6): who
// holds a connection (Registry), management calls carried to the owner
// (Forwarder), the user index (Presence), the dead-node reaper and the
// reaction to a lost lease. With Options.Cluster.Registry nil (one node)
// none of it runs: g.cl is nil and every path is today's.

// ErrUnavailable: the cluster's shared state or the node that holds the
// connection did not answer (a timeout, a 5xx, a partition); the call may
// or may not have taken effect (ServiceUnavailableException, 503,
// retryable). It is cluster.ErrUnavailable itself, so that any seam error
// wrapping it maps to 503.
var ErrUnavailable = cluster.ErrUnavailable

// closeLeaseLost is the close code of the sockets of a node that lost its
// cluster lease (1012 Service Restart: the client reconnects, to another
// node). The node sends no $disconnect for them: a survivor does.
const (
	closeLeaseLost  ws.CloseCode = 1012
	reasonLeaseLost              = "node lost its cluster lease"
	// reasonNodeLost is the $disconnect reason a survivor gives for a dead
	// node's connection (close code 1006).
	reasonNodeLost = "Switchboard node lost"
	// reasonClusterUnavailable: $connect succeeded but the connection
	// could not be recorded in the cluster (close code 1011).
	reasonClusterUnavailable = "cluster unavailable"
	// rejectCluster is the handshake rejection counted then.
	rejectCluster = "cluster_unavailable"
)

// clusterCallTimeout bounds the Registry and Presence calls of a
// handshake, of a $disconnect and of the reaper, and every forwarded call.
const clusterCallTimeout = 5 * time.Second

// reapParallel is how many $disconnects of a dead node the reaper delivers
// at once.
const reapParallel = 16

// nodeCluster is this node's membership of a cluster.
type nodeCluster struct {
	reg  cluster.Registry
	pres cluster.Presence
	fwd  cluster.Forwarder
	self cluster.Node
	// counter is reg's cluster.Counter, or nil: then a clustered
	// @broadcast answers recipients 0. countsDirty (buffered, 1) wakes
	// reportCounts after a connection opened or closed.
	counter     cluster.Counter
	countsDirty chan struct{}

	// lost is set when the Registry's Lost closed: sockets are closed
	// without $disconnect, new handshakes refused, /readyz fails.
	lost atomic.Bool
	// records counts Registry.Add calls not yet balanced by a Remove:
	// Leave at shutdown only when none is left (else they are reaped).
	records atomic.Int64

	cancel context.CancelFunc // stops the loops
	loops  sync.WaitGroup
}

// newNodeCluster returns the cluster view of s, or nil for one node.
func newNodeCluster(s cluster.Seams) *nodeCluster {
	if s.Registry == nil {
		return nil
	}
	cl := &nodeCluster{reg: s.Registry, pres: s.Presence, fwd: s.Forwarder, self: s.Registry.Self()}
	if c, ok := s.Registry.(cluster.Counter); ok {
		cl.counter = c
		cl.countsDirty = make(chan struct{}, 1)
	}
	return cl
}

// countsChanged notes that a connection opened or closed: reportCounts
// sends the new counts (coalesced; never blocks).
func (cl *nodeCluster) countsChanged() {
	select {
	case cl.countsDirty <- struct{}{}:
	default:
	}
}

// reportCounts hands the Registry this node's open connections per stage
// (cluster.Counter.SetCounts) at start and after every change, until ctx
// ends; the lease carries them from its next renewal on.
func (g *Gateway) reportCounts(ctx context.Context) {
	cl := g.cl
	for {
		counts := make(map[string]int, len(g.list))
		for _, a := range g.list {
			counts[a.stage] = a.registry.len()
		}
		cl.counter.SetCounts(counts)
		select {
		case <-ctx.Done():
			return
		case <-cl.countsDirty:
		}
	}
}

// startCluster starts the reaper and the lease watcher (cluster mode).
func (g *Gateway) startCluster() {
	cl := g.cl
	if cl == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl.cancel = cancel
	if cl.counter != nil {
		for _, a := range g.list {
			a.registry.changed = cl.countsChanged
		}
		cl.loops.Go(func() { g.reportCounts(ctx) })
	}
	cl.loops.Add(2)
	go func() {
		defer cl.loops.Done()
		g.watchLease(ctx)
	}()
	go func() {
		defer cl.loops.Done()
		g.reap(ctx)
	}()
}

// stopCluster stops the reaper and the lease watcher and waits for them.
// A dead node's records the reaper was delivering stay claimed until its
// claim lapses, then another node delivers them (same requestIds).
func (g *Gateway) stopCluster() {
	if cl := g.cl; cl != nil && cl.cancel != nil {
		cl.cancel()
		cl.loops.Wait()
	}
}

// leaveCluster ends the node's membership after a drain in which every
// connection's $disconnect went out and its record was removed; otherwise
// what is left stays for a reaper (decision 0024 §6.3).
func (g *Gateway) leaveCluster(ctx context.Context) {
	cl := g.cl
	if cl == nil || cl.lost.Load() {
		return
	}
	if n := cl.records.Load(); n != 0 || ctx.Err() != nil {
		g.log.Warn("not leaving the cluster: connections left for a surviving node to reap", "records", n)
		return
	}
	// Every membership must be gone from the cluster's presence before the
	// node's channel set goes with Leave (nothing would reap them after).
	// Each connection's own leave came before its $disconnect, with its
	// notices; RemoveNode takes whatever a failed leave left behind.
	if cl.pres != nil {
		n := 0
		if err := cl.pres.RemoveNode(ctx, cl.self.Incarnation, func(api, channel string, r cluster.LeaveResult) {
			n++
			g.reaped(api, channel, r)
		}); err != nil {
			g.log.Warn("not leaving the cluster: removing this node's memberships failed; a surviving node reaps this node after its lease", "error", err.Error())
			return
		}
		if n > 0 {
			g.log.Warn("memberships left behind by failed presence leaves were removed", "memberships", n)
		}
	}
	if err := cl.reg.Leave(ctx); err != nil {
		g.log.Warn("leaving the cluster failed; a surviving node reaps this node after its lease", "error", err.Error())
		return
	}
	g.log.Info("left the cluster", "incarnation", cl.self.Incarnation)
}

// LeaseLost reports whether this node lost its cluster lease: it serves
// no connection any more and /readyz answers 503.
func (g *Gateway) LeaseLost() bool { return g.cl != nil && g.cl.lost.Load() }

// watchLease closes every socket (1012, without $disconnect) when the
// Registry reports the lease lost.
func (g *Gateway) watchLease(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-g.cl.reg.Lost():
	}
	g.cl.lost.Store(true)
	n := 0
	for _, a := range g.list {
		n += a.registry.each(func(c *Conn) { c.ws.Close(closeLeaseLost, reasonLeaseLost) })
	}
	g.log.Error("lost the cluster lease: closing every connection; a surviving node delivers their $disconnect",
		"incarnation", g.cl.self.Incarnation, "connections", n)
}

// DisconnectRequestID is the requestId of connection id's $disconnect in
// a cluster: the 16-character AWS shape (event.NewID) of the first 11
// bytes of SHA-256(id), so that the owner and any reaper that delivers it
// again use the same one and a backend can de-duplicate.
func DisconnectRequestID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.URLEncoding.EncodeToString(sum[:11])
}

// disconnectRequestID is a fresh id on one node, DisconnectRequestID in a
// cluster.
func (g *Gateway) disconnectRequestID(id string) string {
	if g.cl == nil {
		return event.NewID()
	}
	return DisconnectRequestID(id)
}

// recordJSON is event.Connection as a Record carries it.
type recordJSON struct {
	ID          string         `json:"connectionId"`
	APIID       string         `json:"apiId"`
	Stage       string         `json:"stage"`
	DomainName  string         `json:"domainName"`
	ConnectedAt int64          `json:"connectedAt"` // Unix ms
	SourceIP    string         `json:"sourceIp"`
	UserAgent   string         `json:"userAgent,omitempty"`
	Authorizer  map[string]any `json:"authorizer,omitempty"`
}

func encodeConnection(c *event.Connection) ([]byte, error) {
	return json.Marshal(recordJSON{
		ID: c.ID, APIID: c.APIID, Stage: c.Stage, DomainName: c.DomainName,
		ConnectedAt: c.ConnectedAt.UnixMilli(),
		SourceIP:    c.Identity.SourceIP, UserAgent: c.Identity.UserAgent,
		Authorizer: c.Authorizer,
	})
}

func decodeConnection(b []byte) (event.Connection, error) {
	var r recordJSON
	if err := json.Unmarshal(b, &r); err != nil {
		return event.Connection{}, err
	}
	if r.ID == "" {
		return event.Connection{}, errors.New("no connectionId")
	}
	return event.Connection{
		ID: r.ID, APIID: r.APIID, Stage: r.Stage, DomainName: r.DomainName,
		ConnectedAt: time.UnixMilli(r.ConnectedAt),
		Identity:    event.Identity{SourceIP: r.SourceIP, UserAgent: r.UserAgent},
		Authorizer:  r.Authorizer,
	}, nil
}

// recordConnection records c, whose $connect succeeded, in the cluster:
// Registry.Add and, with a user, Presence.AddUser, in parallel. On an
// error the handshake answers 503 and the connection ends ($disconnect).
func (g *Gateway) recordConnection(c *Conn, user string) error {
	cl := g.cl
	conn, err := encodeConnection(&c.info)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(g.ctx, clusterCallTimeout)
	defer cancel()
	var userErr error
	var wg sync.WaitGroup
	if user != "" && cl.pres != nil {
		wg.Go(func() { userErr = cl.pres.AddUser(ctx, c.api.stage, user, c.info.ID) })
	}
	err = cl.reg.Add(ctx, cluster.Record{API: c.api.stage, ID: c.info.ID, User: user, Connection: conn, Protocol: c.protocol})
	wg.Wait()
	if err == nil && userErr == nil {
		cl.records.Add(1)
		return nil
	}
	// Undo what did succeed (best effort: a record left behind is reaped
	// with this node, a user entry left behind names a gone connection,
	// which @users skips).
	undo, cancelUndo := context.WithTimeout(context.WithoutCancel(g.ctx), clusterCallTimeout)
	defer cancelUndo()
	if err == nil {
		_ = cl.reg.Remove(undo, c.api.stage, c.info.ID)
	}
	if userErr == nil && user != "" && cl.pres != nil {
		_ = cl.pres.RemoveUser(undo, c.api.stage, user, c.info.ID)
	}
	return errors.Join(err, userErr)
}

// unrecordConnection drops c from the cluster after its $disconnect was
// delivered (or given up). A connection whose record is left (Redis did
// not answer) is reaped after this node's lease: its $disconnect is
// delivered again, with the same requestId.
func (g *Gateway) unrecordConnection(c *Conn) {
	if c.seq == 0 {
		return // never recorded: refused before recordConnection succeeded
	}
	cl := g.cl
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), clusterCallTimeout)
	defer cancel()
	if user := c.member.User(); user != "" && cl.pres != nil {
		if err := cl.pres.RemoveUser(ctx, c.api.stage, user, c.info.ID); err != nil {
			g.log.Warn("removing a connection from the cluster's user index failed", "api", c.api.id,
				"connectionId", c.info.ID, "error", err.Error())
		}
	}
	if err := cl.reg.Remove(ctx, c.api.stage, c.info.ID); err != nil {
		g.log.Warn("removing a connection's cluster record failed; a surviving node delivers its $disconnect again after this node's lease",
			"api", c.api.id, "connectionId", c.info.ID, "error", err.Error())
		return
	}
	cl.records.Add(-1)
}

// leftToSurvivor reports whether c's $disconnect is left to a surviving
// node: this node lost its lease and c is recorded in the cluster (c.seq
// is set by the local registration, which follows Registry.Add).
func (g *Gateway) leftToSurvivor(c *Conn) bool {
	return g.cl != nil && c.seq != 0 && g.cl.lost.Load()
}

// localOnlyKey marks a context whose management call must be served by
// this node, never forwarded (the receiving side of a Forwarder).
type localOnlyKey struct{}

func localOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, localOnlyKey{}, true)
}

func isLocalOnly(ctx context.Context) bool {
	v, _ := ctx.Value(localOnlyKey{}).(bool)
	return v
}

// route says where the management call on connection id of stage is
// served: local (this node holds it, or one node: today's path, no Redis),
// or on node through the Forwarder. Its errors are the management
// sentinels: ErrNoSuchStage, ErrInvalidConnectionID, ErrGone (the owner
// incarnation holds no lease), ErrUnavailable.
func (g *Gateway) route(ctx context.Context, stage, id string) (local bool, node cluster.Node, err error) {
	if g.cl == nil || isLocalOnly(ctx) {
		return true, cluster.Node{}, nil
	}
	if g.apis[stage] == nil {
		return false, node, ErrNoSuchStage
	}
	if !event.ValidID(id) {
		return false, node, ErrInvalidConnectionID
	}
	if inc, ok := cluster.IncarnationOf(id); ok && inc == g.cl.self.Incarnation {
		return true, g.cl.self, nil // no shared state for this node's own connections
	}
	ctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
	defer cancel()
	node, err = g.cl.reg.Owner(ctx, id)
	switch {
	case err == nil:
	case errors.Is(err, cluster.ErrNodeGone):
		return false, node, fmt.Errorf("%w: %w", ErrGone, err)
	case errors.Is(err, ErrUnavailable):
		return false, node, err
	default:
		return false, node, fmt.Errorf("%w: finding the owner of %s: %w", ErrUnavailable, id, err)
	}
	return node.Incarnation == g.cl.self.Incarnation, node, nil
}

// forwarded runs call on the node that holds connection id when that is
// another node, and reports whether it did (or routing failed): then err
// is the call's answer. It reports false when this node serves the call
// itself — one node, a local-only call, or its own connection — and the
// caller goes on with its local path. The channel Join/Leave management
// methods use it the same way as PostToConnection.
func (g *Gateway) forwarded(ctx context.Context, stage, id string, call func(ctx context.Context, f cluster.Forwarder, to cluster.Node) error) (bool, error) {
	if g.cl == nil || isLocalOnly(ctx) {
		return false, nil
	}
	local, node, err := g.route(ctx, stage, id)
	if err != nil {
		return true, err
	}
	if local {
		return false, nil
	}
	if g.cl.fwd == nil {
		return true, fmt.Errorf("%w: no forwarder to node %s", ErrUnavailable, node.Incarnation)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
	defer cancel()
	return true, g.forwardError(node, call(ctx, g.cl.fwd, node))
}

// forwardError maps a Forwarder error to the management sentinels: a gone
// node is ErrGone (410), an unreachable one ErrUnavailable (503); both drop
// the Registry's cached owner when it keeps one. The owner's own answers
// (ErrGone, ErrPayloadTooLarge, ...) pass unchanged.
func (g *Gateway) forwardError(node cluster.Node, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrNodeGone):
		g.forget(node)
		return fmt.Errorf("%w: %w", ErrGone, err)
	case errors.Is(err, ErrUnavailable):
		g.forget(node)
		return err
	case errors.Is(err, context.DeadlineExceeded):
		g.forget(node)
		return fmt.Errorf("%w: node %s: %w", ErrUnavailable, node.Incarnation, err)
	}
	return err
}

// forget drops node from the Registry's owner cache, when it keeps one.
func (g *Gateway) forget(node cluster.Node) {
	if f, ok := g.cl.reg.(interface{ Forget(incarnation string) }); ok {
		f.Forget(node.Incarnation)
	}
}

// clusterList is ListConnections in a cluster: the live nodes in
// incarnation order, one owner's page per call. The cursor is
// "<incarnation>.<that node's cursor>"; a node that left meanwhile is
// skipped.
func (g *Gateway) clusterList(ctx context.Context, stage, cursor string, limit int) (ConnectionPage, error) {
	if g.apis[stage] == nil {
		return ConnectionPage{}, ErrNoSuchStage
	}
	from, sub := "", ""
	if cursor != "" {
		var ok bool
		from, sub, ok = strings.Cut(cursor, ".")
		if !ok || !validIncarnation(from) {
			return ConnectionPage{}, ErrInvalidCursor
		}
	}
	nctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
	nodes, err := g.cl.reg.Nodes(nctx)
	cancel()
	if err != nil {
		return ConnectionPage{}, fmt.Errorf("%w: listing nodes: %w", ErrUnavailable, err)
	}
	i, _ := slices.BinarySearchFunc(nodes, from, func(n cluster.Node, inc string) int { return strings.Compare(n.Incarnation, inc) })
	if i < len(nodes) && nodes[i].Incarnation != from {
		sub = "" // the cursor's node left: start the next one from its beginning
	}
	for ; i < len(nodes); i++ {
		n := nodes[i]
		var page ConnectionPage
		if n.Incarnation == g.cl.self.Incarnation {
			page, err = g.ListConnections(localOnly(ctx), stage, sub, limit)
		} else if g.cl.fwd == nil {
			err = fmt.Errorf("%w: no forwarder to node %s", ErrUnavailable, n.Incarnation)
		} else {
			fctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
			page, err = g.cl.fwd.List(fctx, n, stage, sub, limit)
			cancel()
			err = g.forwardError(n, err)
		}
		sub = ""
		switch {
		case errors.Is(err, ErrGone):
			continue // left or died mid-walk: its connections are gone
		case err != nil:
			return ConnectionPage{}, err
		}
		if page.Next != "" {
			page.Next = n.Incarnation + "." + page.Next
			return page, nil
		}
		if i+1 < len(nodes) {
			if len(page.Connections) == 0 {
				continue
			}
			page.Next = nodes[i+1].Incarnation + "."
		}
		return page, nil
	}
	return ConnectionPage{Connections: []ConnectionInfo{}}, nil
}

func validIncarnation(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// clusterUser is PostToUser, DisconnectUser and UserConnections in a
// cluster: the user's connections from the user index, grouped by the
// incarnation in their ids; this node's are served locally, every other
// live owner gets one Forwarder.User call, all in parallel; counts add up
// and lists are concatenated (then ordered by connection time). A dead
// incarnation's connections are skipped: they are being reaped.
func (g *Gateway) clusterUser(ctx context.Context, stage, user string, op cluster.UserOp, data []byte) (cluster.UserResult, error) {
	a, err := g.api(stage)
	if err != nil {
		return cluster.UserResult{}, err
	}
	if !hub.ValidUser(user) {
		return cluster.UserResult{}, ErrInvalidUser
	}
	if op == cluster.UserPost && len(data) > a.state.Load().maxPost {
		return cluster.UserResult{}, ErrPayloadTooLarge
	}
	cl := g.cl
	var ids []string
	if cl.pres != nil {
		uctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
		ids, err = cl.pres.UserConnections(uctx, a.stage, user)
		cancel()
		if err != nil {
			return cluster.UserResult{}, fmt.Errorf("%w: reading user %q's connections: %w", ErrUnavailable, user, err)
		}
	}
	// One connection id per other incarnation is enough to find its node.
	others := map[string]string{}
	for _, id := range ids {
		if inc, ok := cluster.IncarnationOf(id); ok && inc != cl.self.Incarnation {
			if _, seen := others[inc]; !seen {
				others[inc] = id
			}
		}
	}
	type answer struct {
		inc string
		res cluster.UserResult
		err error
	}
	answers := make([]answer, 0, len(others)+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for inc, id := range others {
		wg.Go(func() {
			ans := answer{inc: inc}
			fctx, cancel := context.WithTimeout(ctx, clusterCallTimeout)
			defer cancel()
			node, err := cl.reg.Owner(fctx, id)
			switch {
			case errors.Is(err, cluster.ErrNodeGone):
				return // dead: its connections are being reaped
			case err != nil:
				ans.err = fmt.Errorf("%w: finding node %s: %w", ErrUnavailable, inc, err)
			case cl.fwd == nil:
				ans.err = fmt.Errorf("%w: no forwarder to node %s", ErrUnavailable, inc)
			default:
				ans.res, ans.err = cl.fwd.User(fctx, node, stage, user, op, data)
				ans.err = g.forwardError(node, ans.err)
				if errors.Is(ans.err, ErrGone) {
					return
				}
			}
			mu.Lock()
			answers = append(answers, ans)
			mu.Unlock()
		})
	}
	self, selfErr := g.Local().User(ctx, stage, user, op, data)
	wg.Wait()
	if selfErr != nil {
		return cluster.UserResult{}, selfErr
	}
	answers = append(answers, answer{inc: cl.self.Incarnation, res: self})
	slices.SortFunc(answers, func(x, y answer) int { return strings.Compare(x.inc, y.inc) })
	var out cluster.UserResult
	for _, ans := range answers {
		if ans.err != nil {
			return cluster.UserResult{}, ans.err
		}
		out.Count += ans.res.Count
		out.Connections = append(out.Connections, ans.res.Connections...)
	}
	slices.SortStableFunc(out.Connections, func(x, y ConnectionInfo) int { return x.ConnectedAt.Compare(y.ConnectedAt) })
	return out, nil
}

// Local returns what this node serves to the other nodes of its cluster:
// management calls on its own connections, never forwarded again.
func (g *Gateway) Local() cluster.Local { return localNode{g} }

type localNode struct{ g *Gateway }

var _ cluster.Local = localNode{}

func (l localNode) Post(ctx context.Context, stage, id string, data []byte) error {
	return l.g.PostToConnection(localOnly(ctx), stage, id, data)
}

func (l localNode) Get(ctx context.Context, stage, id string) (ConnectionInfo, error) {
	return l.g.GetConnection(localOnly(ctx), stage, id)
}

func (l localNode) Delete(ctx context.Context, stage, id string) error {
	return l.g.DeleteConnection(localOnly(ctx), stage, id)
}

func (l localNode) Join(ctx context.Context, stage, channel, id string) error {
	return l.g.Join(localOnly(ctx), stage, channel, id)
}

func (l localNode) Leave(ctx context.Context, stage, channel, id string) error {
	return l.g.Leave(localOnly(ctx), stage, channel, id)
}

func (l localNode) List(ctx context.Context, stage, cursor string, limit int) (ConnectionPage, error) {
	return l.g.ListConnections(localOnly(ctx), stage, cursor, limit)
}

func (l localNode) User(ctx context.Context, stage, user string, op cluster.UserOp, data []byte) (cluster.UserResult, error) {
	ctx = localOnly(ctx)
	switch op {
	case cluster.UserPost:
		n, err := l.g.PostToUser(ctx, stage, user, data)
		return cluster.UserResult{Count: n}, err
	case cluster.UserDisconnect:
		n, err := l.g.DisconnectUser(ctx, stage, user)
		return cluster.UserResult{Count: n}, err
	case cluster.UserList:
		conns, err := l.g.UserConnections(ctx, stage, user)
		return cluster.UserResult{Count: len(conns), Connections: conns}, err
	}
	return cluster.UserResult{}, fmt.Errorf("unknown user operation %d", op)
}

// reaped hands a membership that RemoveNode took out to the hub of its API
// (named by its stage), which tells its OnMembership: this node's step made
// the leave.
func (g *Gateway) reaped(api, channel string, r cluster.LeaveResult) {
	if a := g.apis[api]; a != nil {
		a.hub.Reaped(channel, r)
	}
}

// reap runs the Registry's reaper until ctx ends: for each dead node this
// node claims, its channel memberships go (Presence.RemoveNode orders the
// leave notices), then each of its connections leaves the user index and
// gets its $disconnect (1006 "Switchboard node lost", the deterministic
// requestId, the API's retries) unless it was a protocol front-end's
// (Record.Protocol), then its record is deleted.
func (g *Gateway) reap(ctx context.Context) {
	for {
		err := g.cl.reg.Reap(ctx, g.reapNode)
		if ctx.Err() != nil {
			return
		}
		g.log.Warn("cluster reaper stopped; restarting", "error", fmt.Sprint(err))
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) reapNode(ctx context.Context, dead cluster.Node, rs cluster.Records) error {
	cl := g.cl
	g.log.Info("reaping a lost node", "incarnation", dead.Incarnation, "node", dead.ID)
	if cl.pres != nil {
		members := 0
		if err := cl.pres.RemoveNode(ctx, dead.Incarnation, func(api, channel string, r cluster.LeaveResult) {
			members++
			g.reaped(api, channel, r)
		}); err != nil {
			return fmt.Errorf("removing node %s from channels: %w", dead.Incarnation, err)
		}
		g.log.Info("lost node's channel memberships removed", "incarnation", dead.Incarnation, "memberships", members)
	}
	total := 0
	for {
		batch, err := rs.Next(ctx, 64)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		sem := make(chan struct{}, reapParallel)
		for _, rec := range batch {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := g.reapRecord(ctx, rec, rs); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			})
		}
		wg.Wait()
		if p := failed.Load(); p != nil {
			return *p
		}
		total += len(batch)
	}
	g.log.Info("lost node reaped", "incarnation", dead.Incarnation, "connections", total)
	return nil
}

// reapRecord ends one connection of a dead node.
func (g *Gateway) reapRecord(ctx context.Context, rec cluster.Record, rs cluster.Records) error {
	cl := g.cl
	if rec.User != "" && cl.pres != nil {
		if err := cl.pres.RemoveUser(ctx, rec.API, rec.User, rec.ID); err != nil {
			return err
		}
	}
	var a *API
	for _, x := range g.list {
		if x.stage == rec.API {
			a = x
			break
		}
	}
	info, err := decodeConnection(rec.Connection)
	switch {
	case a == nil:
		g.log.Error("a lost node's connection belongs to an API this node does not serve; its $disconnect is dropped",
			"api", rec.API, "connectionId", rec.ID)
	case err != nil:
		g.log.Error("a lost node's connection record is unreadable; its $disconnect is dropped",
			"api", rec.API, "connectionId", rec.ID, "error", err.Error())
	case rec.Protocol != "":
		// A front-end's connection never ran the API's routes, so it gets
		// no $disconnect (decision 0025): its front-end heard of its leaves
		// from RemoveNode (hub.Reaped, OnMembership: Pusher's webhooks).
		g.log.Info("disconnect", "api", a.id, "connectionId", rec.ID, "protocol", rec.Protocol, "code", int(ws.CloseAbnormal),
			"reason", reasonNodeLost, "reaped", true)
	default:
		st := a.acquire()
		c := &Conn{g: g, api: a, info: info}
		if st.disconnect != nil {
			it := inItem{closed: true, code: ws.CloseAbnormal, reason: reasonNodeLost, at: g.now()}
			g.deliverDisconnect(ctx, c, st, it, DisconnectRequestID(rec.ID))
		}
		st.release()
		if ctx.Err() != nil {
			return ctx.Err() // cancelled mid-delivery: the next claimer delivers it again
		}
		g.log.Info("disconnect", "api", a.id, "connectionId", rec.ID, "code", int(ws.CloseAbnormal),
			"reason", reasonNodeLost, "reaped", true)
	}
	return rs.Done(ctx, rec.ID)
}
