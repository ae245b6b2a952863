// Package config defines Switchboard's configuration: the plain structs the
// gateway runs from, their defaults, and the loader that reads them from a
// YAML file and the environment.
//
// A configuration is built in four steps, and each step reports every
// problem it finds, naming the file and line, the field path (for example
// apis[0].routes.sendMessage.integration) and the fix:
//
//  1. Parse the YAML into a node tree (one document; syntax errors stop
//     here).
//  2. Expand ${NAME} and ${NAME:-default} inside scalar values. Only
//     upper-case names are variables, so route expressions such as
//     ${request.body.action} and templates such as ${context.connectionId}
//     pass through untouched; $${ is a literal ${. Because expansion works
//     on decoded scalars rather than on the raw text, comments are never
//     expanded and a value cannot change the structure of the document.
//  3. Decode strictly: unknown keys are errors, with a suggestion derived
//     from the struct tags.
//  4. Apply SWITCHBOARD_* environment overrides, resolve relative paths
//     (function directories, TLS files, JWT public key files) against the
//     file's directory (Load only), then apply defaults, then Validate.
//
// Precedence is flags > environment > file > defaults; command-line flags
// are applied by the CLI after Load, which then calls Validate again.
//
// The zero value of every field means its documented default (see
// ApplyDefaults), so a Config written in Go needs only the fields it
// changes. Validate checks a config as it would run and does not modify
// it (it does look at the file system: function directories and
// executables, the TLS certificate and key, and JWT public key files must
// exist and be readable); the syntax of routeSelectionExpression and
// payload templates is checked by the packages that compile them (route,
// payload), not here. An action's channel is the exception: Validate
// tokenizes it with the route package, because its text must also make a
// valid channel name. auth.origins are compiled with the origin package,
// so that Validate reports exactly what the gateway would refuse.
//
// Concurrency: the package has no state. Load, Parse, Default and Validate
// may be called from any goroutine. A *Config is plain data: the caller
// that owns it may mutate it (ApplyDefaults does); once handed to the
// gateway it must be treated as read-only.
package config
