package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConfigurationDoc keeps docs/configuration.md in step with the code:
// it shows SeedYAML and the examples of testdata (which TestChannelsExample,
// TestIntegrationExamples, TestProductionExample and TestPusherExample
// load) verbatim and mentions every key.
func TestConfigurationDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.Contains(doc, "```yaml\n"+SeedYAML+"```\n") {
		t.Error("docs/configuration.md does not show SeedYAML verbatim under \"Seed configuration\"")
	}
	for _, ex := range []struct{ file, section string }{
		{"channels.yaml", "Channels"},
		{"lambda.yaml", "apis[].integrations"},
		{"function.yaml", "apis[].integrations"},
		{"production.yaml", "A secure production configuration"},
		{"cluster.yaml", "cluster"},
		{"pusher.yaml", "Pusher apps"},
	} {
		example, err := os.ReadFile(filepath.Join("testdata", ex.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(doc, "```yaml\n"+string(example)+"```\n") {
			t.Errorf("docs/configuration.md does not show testdata/%s verbatim under %q", ex.file, ex.section)
		}
	}
	var walk func(reflect.Type, string)
	walk = func(t0 reflect.Type, path string) {
		for t0.Kind() == reflect.Pointer || t0.Kind() == reflect.Slice || t0.Kind() == reflect.Map {
			t0 = t0.Elem()
		}
		if t0.Kind() != reflect.Struct {
			return
		}
		fs := structFields(t0)
		for _, name := range fs.names {
			if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "."+name+"`") {
				t.Errorf("docs/configuration.md does not document %s%s", path, name)
			}
			walk(fs.byName[name], path+name+".")
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

// TestSecurityDocExample keeps the secure production configuration in
// docs/SECURITY.md identical to the tested testdata/production.yaml.
func TestSecurityDocExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "production.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(want)+"```") {
		t.Fatal("docs/SECURITY.md does not show testdata/production.yaml verbatim")
	}
}
