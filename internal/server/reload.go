package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/gateway"
)

// Reload results, as counted in switchboard_config_reloads_total.
const (
	reloadApplied = "applied"
	reloadInvalid = "invalid"
	reloadFailed  = "failed"
	reloadSkipped = "skipped"
)

// ErrNothingToReload is Reload's error when the server runs without a
// configuration file (the seed configuration).
var ErrNothingToReload = errors.New("no configuration file to reload: the built-in seed configuration is running")

// Reload reads the configuration file again (Options.Load) and applies
// what can change while serving, without closing any connection
// (docs/configuration.md, "Reloading"; decision 0019):
//
//   - an invalid file is refused with the message `switchboard validate`
//     prints, logged at ERROR; the running configuration stays;
//   - each difference that needs a restart (the listen address, TLS file
//     paths, an API added or removed, ...) is named in a WARN line;
//   - the rest — management keys, each API's routes, integrations, auth,
//     origins and limits, shutdown settings, http.maxConnections,
//     log.level — is
//     applied at once: new handshakes and messages use it, calls in
//     flight finish on what they started with.
//
// Every reload ends with one log line and one count in
// switchboard_config_reloads_total{result}. Reloads are serialized; one
// asked for during shutdown is skipped.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.load == nil {
		s.m.ConfigReloads.WithLabelValues(reloadSkipped).Inc()
		s.log.Info("configuration reload: nothing to reload; the built-in seed configuration keeps serving (start with --config FILE to reload a file)")
		return ErrNothingToReload
	}
	if s.gateway.Draining() {
		s.m.ConfigReloads.WithLabelValues(reloadSkipped).Inc()
		s.log.Info("configuration reload skipped: the server is shutting down")
		return gateway.ErrShuttingDown
	}
	next, err := s.load()
	if err != nil {
		s.m.ConfigReloads.WithLabelValues(reloadInvalid).Inc()
		s.log.Error("configuration reload refused; the running configuration keeps serving", "error", err.Error())
		return err
	}
	cur := s.cfg.Load()
	eff, notes := config.ApplyReload(cur, next)
	err = eff.Validate()
	if err == nil {
		err = gateway.Check(eff)
	}
	if err != nil {
		// The file is valid, but what a reload can apply of it is not (a
		// management key naming a stage that only a restart would add).
		s.m.ConfigReloads.WithLabelValues(reloadInvalid).Inc()
		s.log.Error("configuration reload refused; the running configuration keeps serving",
			"error", fmt.Sprintf("what a reload can apply is not valid: %v", err), "restartRequired", strings.Join(notes, "; "))
		return err
	}
	changed, err := s.gateway.Reload(eff)
	if err != nil {
		result := reloadFailed
		if errors.Is(err, gateway.ErrShuttingDown) {
			result = reloadSkipped
		}
		s.m.ConfigReloads.WithLabelValues(result).Inc()
		s.log.Error("configuration reload failed; nothing changed, the running configuration keeps serving", "error", err.Error())
		return err
	}
	s.manage.SetAuth(s.manageAuth(eff))
	if s.pusher != nil {
		if err := s.pusher.Reload(eff); err != nil {
			s.log.Error("Pusher apps not reloaded; they keep their running settings", "error", err.Error())
		}
	}
	if s.level != nil {
		var l slog.Level
		if l.UnmarshalText([]byte(eff.Log.Level)) == nil {
			s.level.Set(l)
		}
	}
	s.cfg.Store(eff)
	for _, n := range notes {
		s.log.Warn(n)
	}
	if eff.Management.LoopbackAllowed() && !cur.Management.LoopbackAllowed() {
		s.log.Warn("management API admits every loopback client without credentials (development mode); set management.allowLoopback: false and configure accessKeys or apiKeys in production (docs/SECURITY.md)")
	}
	s.m.ConfigReloads.WithLabelValues(reloadApplied).Inc()
	s.log.Info("configuration reloaded", "apisChanged", changed, "restartRequired", len(notes))
	return nil
}
