// Package tlsreload serves a TLS certificate from PEM files and picks up
// a renewed certificate without a restart.
//
// A Reloader loads the certificate and key once in New, then checks the
// two files every interval (by size, modification time and identity, so
// both in-place rewrites and renames/symlink swaps such as certbot's or a
// Kubernetes secret volume's are seen) and reloads them when they change.
// A new pair that does not load — half written, or a certificate whose
// key is not there yet — is logged and the previous certificate keeps
// being served; it is tried again when the files change again.
//
// Concurrency: GetCertificate is safe for concurrent use and never blocks
// on file I/O (it reads an atomic pointer). One goroutine, started by New
// and stopped by Close, polls the files and owns the record of what was
// last seen.
package tlsreload
