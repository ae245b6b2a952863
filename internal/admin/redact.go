package admin

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchboardhq/switchboard/internal/config"
)

// redacted replaces a secret value in the rendered configuration.
const redacted = "[redacted]"

// fieldRef names a struct field by its type and Go name.
type fieldRef struct {
	t    reflect.Type
	name string
}

func ref[T any](name string) fieldRef { return fieldRef{reflect.TypeFor[T](), name} }

// secretFields are the configuration's secret values, replaced whole.
// secretMaps are maps whose values are secret (header values, environment
// variables: where shared secrets are put); their keys stay visible.
// urlFields are URLs whose user information and query are hidden (a
// password or token may be written there). TestSecretFieldsClassified
// fails when a field that looks like a secret is in none of these lists
// nor in notSecret, so a new field gets a decision.
var (
	secretFields = map[fieldRef]bool{
		ref[config.APIKey]("Key"):             true,
		ref[config.AccessKey]("Secret"):       true,
		ref[config.Redis]("Password"):         true,
		ref[config.RedisSentinel]("Password"): true,
		ref[config.ClusterInternal]("Secret"): true,
		ref[config.JWTKey]("Secret"):          true,
		ref[config.PusherApp]("Secret"):       true,
		ref[config.Integration]("Headers"):    true,
		ref[config.Function]("Environment"):   true,
		ref[config.PusherWebhook]("Headers"):  true,
	}
	urlFields = map[fieldRef]bool{
		ref[config.Integration]("URL"):   true,
		ref[config.JWT]("JWKSURL"):       true,
		ref[config.Lambda]("Endpoint"):   true,
		ref[config.PusherWebhook]("URL"): true,
	}
	// notSecret are fields whose names look secret but whose values are
	// not: names, paths of key files, public keys, prefixes.
	notSecret = map[fieldRef]bool{
		ref[config.APIKey]("Name"):           true,
		ref[config.AccessKey]("ID"):          true,
		ref[config.TLS]("KeyFile"):           true,
		ref[config.RedisTLS]("KeyFile"):      true,
		ref[config.ClusterTLS]("KeyFile"):    true,
		ref[config.Redis]("KeyPrefix"):       true,
		ref[config.JWTKey]("ID"):             true,
		ref[config.JWTKey]("PublicKey"):      true,
		ref[config.JWTKey]("PublicKeyFile"):  true,
		ref[config.JWT]("Header"):            true, // the header's name
		ref[config.PusherApp]("Key"):         true, // public: pusher-js sends it in the URL
		ref[config.Management]("APIKeys"):    true,
		ref[config.Management]("AccessKeys"): true,
		ref[config.JWT]("Keys"):              true,
		ref[config.Function]("Credentials"):  true, // "generated" or "none"
		ref[config.Namespace]("Authorizer"):  true, // an integration's name
	}
)

// renderConfig returns cfg as YAML with every secret replaced by
// [redacted], keys named as in the configuration file.
func renderConfig(cfg *config.Config) ([]byte, error) {
	tree := toTree(reflect.ValueOf(cfg).Elem(), false)
	return yaml.Marshal(tree)
}

// toTree turns a configuration value into maps, slices and scalars that
// yaml marshals with the file's key names; secret says the value (a
// string or a map's values) is to be hidden.
func toTree(v reflect.Value, secret bool) any {
	if m, ok := v.Interface().(yaml.Marshaler); ok && v.Kind() != reflect.Pointer && v.Kind() != reflect.Struct {
		out, err := m.MarshalYAML()
		if err == nil {
			return out
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toTree(v.Elem(), secret)
	case reflect.Struct:
		out := yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fv := v.Field(i)
			if fv.IsZero() {
				continue // unset: its default applies
			}
			r := fieldRef{t, f.Name}
			var val any
			switch {
			case urlFields[r]:
				val = redactURL(fv.String())
			default:
				val = toTree(fv, secretFields[r])
			}
			var kn, vn yaml.Node
			kn.SetString(name)
			if err := vn.Encode(val); err != nil {
				vn.SetString(fmt.Sprint(val))
			}
			out.Content = append(out.Content, &kn, &vn)
		}
		return &out
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toTree(v.Index(i), secret)
		}
		return out
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		out := yaml.Node{Kind: yaml.MappingNode}
		for _, k := range keys {
			var kn, vn yaml.Node
			kn.SetString(fmt.Sprint(k.Interface()))
			if secret {
				vn.SetString(redacted)
			} else if err := vn.Encode(toTree(v.MapIndex(k), false)); err != nil {
				vn.SetString(redacted)
			}
			out.Content = append(out.Content, &kn, &vn)
		}
		return &out
	case reflect.String:
		if secret {
			return redacted
		}
		return v.String()
	default:
		if secret {
			return redacted
		}
		return v.Interface()
	}
}

// redactURL hides a URL's password, user and query values; what does not
// parse as a URL is hidden whole.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redacted}
		}
		u.RawQuery = q.Encode()
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}
