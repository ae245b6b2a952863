package gateway

import (
	"fmt"
	"sort"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/payload"
	"github.com/switchboardhq/switchboard/internal/route"
)

// Check compiles what config.Validate leaves to the gateway — route
// selection expressions and payload templates — and returns nil or a
// *config.ValidationError naming each field that does not compile.
func Check(c *config.Config) error {
	var problems []config.Problem
	for i := range c.APIs {
		a := &c.APIs[i]
		if _, err := route.Parse(a.RouteSelectionExpression); err != nil {
			problems = append(problems, config.Problem{
				Field:   fmt.Sprintf("apis[%d].routeSelectionExpression", i),
				Message: err.Error(),
			})
		}
		keys := make([]string, 0, len(a.Routes))
		for k := range a.Routes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			act := a.Routes[k].Action
			if act == nil || act.Type != "broadcast" {
				continue
			}
			if _, err := payload.Compile(act.Payload); err != nil {
				problems = append(problems, config.Problem{
					Field:   fmt.Sprintf("apis[%d].routes.%s.action.payload", i, k),
					Message: err.Error(),
				})
			}
		}
	}
	if problems != nil {
		return &config.ValidationError{Problems: problems}
	}
	return nil
}
