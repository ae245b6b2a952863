package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestManagementKeys parses the management example of docs/configuration.md
// (with an API serving its stage): access keys and scoped API keys, the
// secrets read from the environment.
func TestManagementKeys(t *testing.T) {
	const yaml = `
management:
  allowLoopback: false
  accessKeys:
    - id: AKIAIOSFODNN7EXAMPLE          # the backends' AWS_ACCESS_KEY_ID
      secret: ${SWITCHBOARD_SECRET_KEY} # their AWS_SECRET_ACCESS_KEY
      stages: [production]
  apiKeys:
    - name: ops
      key: ${SWITCHBOARD_OPS_KEY}
apis:
  - id: chat
    stage: production
    routeSelectionExpression: $request.body.action
`
	env := map[string]string{
		"SWITCHBOARD_SECRET_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"SWITCHBOARD_OPS_KEY":    "ops-0123456789abcdef",
	}
	c, err := Parse("x.yaml", []byte(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := Management{
		AccessKeys:    []AccessKey{{ID: "AKIAIOSFODNN7EXAMPLE", Secret: env["SWITCHBOARD_SECRET_KEY"], Stages: []string{"production"}}},
		APIKeys:       []APIKey{{Name: "ops", Key: env["SWITCHBOARD_OPS_KEY"]}},
		AllowLoopback: new(false),
	}
	if diff := cmp.Diff(want, c.Management); diff != "" {
		t.Errorf("management (-want +got):\n%s", diff)
	}

	_, err = Parse("x.yaml", []byte(strings.Replace(yaml, "[production]", "[prod]", 1)), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), `management.accessKeys[0].stages[0]: "prod" is not the stage of any API (did you mean "production"?)`) {
		t.Errorf("unknown stage: %v", err)
	}
}
