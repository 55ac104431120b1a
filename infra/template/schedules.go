package template

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ScheduleMapping is a Schedule or ScheduleV2 event of a function: the EventBridge
// rule (or scheduler schedule) SAM creates for it, which the local runtime plays
// (infra/local).
type ScheduleMapping struct {
	// Function is the folder name of the function; FunctionLogicalID and Event identify
	// the event in the template.
	Function          string
	FunctionLogicalID string
	Event             string
	// Expression is the schedule as written: rate(…) or cron(…).
	Expression string
	// Rate is a rate expression's interval; 0 for a cron expression.
	Rate time.Duration
	// LocalRateFrom is the function's Metadata.LocalRateFrom: an environment variable
	// whose duration, locally, replaces Rate (a period that is an hour in AWS and
	// seconds in tests).
	LocalRateFrom string
	// Timeout is the function's timeout in seconds.
	Timeout int
	// Enabled is false for Enabled: false (Schedule) or State: DISABLED (ScheduleV2).
	Enabled bool
}

// ScheduleMappings returns every Schedule and ScheduleV2 event of every function,
// sorted by function then event name.
func (t *Template) ScheduleMappings() ([]ScheduleMapping, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var out []ScheduleMapping
	for _, f := range fns {
		meta := t.Resources[f.LogicalID].Metadata
		for _, e := range f.Events {
			if e.Type != "Schedule" && e.Type != "ScheduleV2" {
				continue
			}
			m := ScheduleMapping{Function: f.Name, FunctionLogicalID: f.LogicalID, Event: e.Name, Timeout: f.Timeout, Enabled: true}
			m.LocalRateFrom, _ = meta["LocalRateFrom"].(string)
			field := "Schedule"
			if e.Type == "ScheduleV2" {
				field = "ScheduleExpression"
				if s, ok := e.Properties["State"].(string); ok && s == "DISABLED" {
					m.Enabled = false
				}
			} else if v, ok := e.Properties["Enabled"].(bool); ok {
				m.Enabled = v
			}
			expr, ok := e.Properties[field].(string)
			if !ok {
				return nil, fmt.Errorf("function %s event %s: %s must be a plain string", f.LogicalID, e.Name, field)
			}
			m.Expression = expr
			if strings.HasPrefix(expr, "rate(") {
				if m.Rate, err = ParseRate(expr); err != nil {
					return nil, fmt.Errorf("function %s event %s: %w", f.LogicalID, e.Name, err)
				}
			} else if !strings.HasPrefix(expr, "cron(") {
				return nil, fmt.Errorf("function %s event %s: %q is neither rate(…) nor cron(…)", f.LogicalID, e.Name, expr)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ParseRate reads an EventBridge rate expression: rate(<n> minute|minutes|hour|hours|
// day|days), n a positive integer (singular for 1, as EventBridge requires).
func ParseRate(expr string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(expr, "rate(")
	if inner, ok = strings.CutSuffix(inner, ")"); !ok {
		return 0, fmt.Errorf("%q is not a rate expression", expr)
	}
	num, unit, _ := strings.Cut(strings.TrimSpace(inner), " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q: the value must be a positive integer", expr)
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	u, plural := strings.CutSuffix(unit, "s")
	d, known := units[u]
	if !known || plural == (n == 1) {
		return 0, fmt.Errorf("%q: the unit must be minute, hour or day (singular for 1, plural otherwise)", expr)
	}
	return time.Duration(n) * d, nil
}
