package iam

import (
	"fmt"
	"sort"
	"strings"
)

// Grant is one action on one resource that a statement allows.
type Grant struct {
	Function string
	// Statement is the statement's index among the function's statements.
	Statement int
	Action    string
	// Resource is the resolved ARN pattern, Written the same as the template writes it.
	Resource, Written string
}

func (g Grant) String() string {
	return fmt.Sprintf("%s: %s on %s (statement %d)", g.Function, g.Action, g.Written, g.Statement)
}

// Keep is an allow-list entry: a grant no request of the suite uses that stays in
// the template, with the reason.
type Keep struct {
	Function, Action string
	// Written is the resource as the template writes it; "" keeps the action on
	// every resource of the function's statements.
	Written string
	Reason  string
	// Sometimes marks a grant that a run may or may not use: a failure path that only
	// an injected fault reaches, and only when the draw falls on it (the suite's fault
	// test). Such a Keep is never stale.
	Sometimes bool
}

func (k Keep) matches(g Grant) bool {
	return k.Function == g.Function && strings.EqualFold(k.Action, g.Action) && (k.Written == "" || k.Written == g.Written)
}

// Report is what Check found.
type Report struct {
	// Functions is the number of functions in the template, Checked those with at
	// least one recorded request, and NotCalled those with a grant and no request
	// (the suite never made them call AWS: not checked, their grants not judged).
	Functions, Checked int
	NotCalled          []string
	// Calls is the number of requests recorded (a transaction of three items is
	// three), Distinct the distinct (function, action, resource, context) among them,
	// StandIns the requests the local runtime did otherwise (mail by SMTP), NoIAM the
	// token-authorized Cognito requests (not checked).
	Calls, Distinct, StandIns, NoIAM int
	// Grants is the number of (action, resource) grants of the checked functions.
	Grants int
	// Denied are the requests no statement of their function allows.
	Denied []Recorded
	// Unused are the grants of checked functions that no request used and no Keep
	// names; Kept those a Keep names (with the Keep); Stale the Keeps that name no
	// unused grant (the grant is used now, or gone).
	Unused []Grant
	Kept   []KeptGrant
	Stale  []Keep
	// Unknown are the recorded functions the template does not declare.
	Unknown []string
	// Unattributed counts calls made under no function's name, Errors calls this
	// package could not map (both from the Recorder).
	Unattributed, Errors map[string]int
}

// KeptGrant is an unused grant with the Keep that explains it.
type KeptGrant struct {
	Grant
	Keep Keep
}

// OK is true when every request is allowed, every unused grant is kept with a
// reason, no Keep is stale and every call could be mapped.
func (r Report) OK() bool {
	return len(r.Denied) == 0 && len(r.Unused) == 0 && len(r.Stale) == 0 && len(r.Unknown) == 0 && len(r.Errors) == 0
}

// Check holds the recorded requests against the policies.
func Check(policies map[string]*FunctionPolicy, recorded []Recorded, keep []Keep) Report {
	rep := Report{Functions: len(policies)}
	used := map[Grant]bool{}
	called := map[string]bool{}
	unknown := map[string]bool{}
	for _, q := range recorded {
		rep.Calls += q.Count
		rep.Distinct++
		if q.StandIn {
			rep.StandIns += q.Count
		}
		if q.NoIAM {
			rep.NoIAM += q.Count
			continue
		}
		fp, ok := policies[q.Function]
		if !ok {
			unknown[q.Function] = true
			continue
		}
		called[q.Function] = true
		if !allowed(fp, q.Request, used) {
			rep.Denied = append(rep.Denied, q)
		}
	}
	for f := range unknown {
		rep.Unknown = append(rep.Unknown, f)
	}
	sort.Strings(rep.Unknown)

	keptUsed := make([]bool, len(keep))
	for _, name := range sortedKeys(policies) {
		fp := policies[name]
		grants := fp.grants()
		if len(grants) == 0 {
			continue
		}
		if !called[name] {
			rep.NotCalled = append(rep.NotCalled, name)
			continue
		}
		rep.Checked++
		rep.Grants += len(grants)
		for _, g := range grants {
			if used[g] {
				continue
			}
			k := -1
			for i, kp := range keep {
				if kp.matches(g) {
					k = i
					break
				}
			}
			if k < 0 {
				rep.Unused = append(rep.Unused, g)
				continue
			}
			keptUsed[k] = true
			rep.Kept = append(rep.Kept, KeptGrant{Grant: g, Keep: keep[k]})
		}
	}
	for i, k := range keep {
		if !keptUsed[i] && !k.Sometimes {
			rep.Stale = append(rep.Stale, k)
		}
	}
	return rep
}

// grants lists the (action, resource) pairs of the Allow statements.
func (fp *FunctionPolicy) grants() []Grant {
	var out []Grant
	for _, s := range fp.Statements {
		if !s.Allow {
			continue
		}
		for _, a := range s.Actions {
			for i, res := range s.Resources {
				out = append(out, Grant{Function: fp.Function, Statement: s.Index, Action: a, Resource: res, Written: s.Written[i]})
			}
		}
	}
	return out
}

// allowed evaluates q as IAM does within one identity policy (an explicit Deny
// wins, then any Allow), marking every grant that allows it as used.
func allowed(fp *FunctionPolicy, q Request, used map[Grant]bool) bool {
	var allowing []Grant
	for _, s := range fp.Statements {
		if !s.conditionsHold(q.Context) {
			continue
		}
		for _, a := range s.Actions {
			if !matchesAction(a, q.Action) {
				continue
			}
			for i, res := range s.Resources {
				if !matchesResource(res, q.Resource) {
					continue
				}
				if !s.Allow {
					return false
				}
				allowing = append(allowing, Grant{Function: fp.Function, Statement: s.Index, Action: a, Resource: res, Written: s.Written[i]})
			}
		}
	}
	for _, g := range allowing {
		used[g] = true
	}
	return len(allowing) > 0
}

// String is the report for a person: the figures, then every finding.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "IAM check: %d functions in the template, %d checked (%d grants), %d with grants never calling AWS in the suite\n",
		r.Functions, r.Checked, r.Grants, len(r.NotCalled))
	fmt.Fprintf(&b, "requests: %d (%d distinct), %d by a local stand-in (mail by SMTP for SES), %d token-authorized (no IAM)\n",
		r.Calls, r.Distinct, r.StandIns, r.NoIAM)
	fmt.Fprintf(&b, "denied: %d, unused grants: %d, kept unused with a reason: %d, stale allow-list entries: %d\n",
		len(r.Denied), len(r.Unused), len(r.Kept), len(r.Stale))
	for _, q := range r.Denied {
		fmt.Fprintf(&b, "  DENIED %s: %s on %s (%s, %d×, context %v)\n", q.Function, q.Action, q.Resource, q.Call, q.Count, q.Context)
	}
	for _, g := range r.Unused {
		fmt.Fprintf(&b, "  UNUSED %s\n", g)
	}
	for _, k := range r.Stale {
		fmt.Fprintf(&b, "  STALE allow-list entry %s: %s on %q: it names no unused grant\n", k.Function, k.Action, k.Written)
	}
	for _, f := range r.Unknown {
		fmt.Fprintf(&b, "  UNKNOWN function %s made calls but is not in the template\n", f)
	}
	for _, e := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "  UNMAPPED %s (%d×)\n", e, r.Errors[e])
	}
	for _, k := range r.Kept {
		fmt.Fprintf(&b, "  kept %s: %s\n", k.Grant, k.Keep.Reason)
	}
	if len(r.NotCalled) > 0 {
		fmt.Fprintf(&b, "  not called (grants not judged): %s\n", strings.Join(r.NotCalled, ", "))
	}
	if len(r.Unattributed) > 0 {
		var parts []string
		for _, k := range sortedKeys(r.Unattributed) {
			parts = append(parts, fmt.Sprintf("%s %d×", k, r.Unattributed[k]))
		}
		fmt.Fprintf(&b, "  calls of no function (the test harness): %s\n", strings.Join(parts, ", "))
	}
	return b.String()
}

// Table lists the recorded requests by function: each action and resource with
// its count, for the report file.
func Table(recorded []Recorded) string {
	var b strings.Builder
	last := ""
	for _, q := range recorded {
		if q.Function != last {
			fmt.Fprintf(&b, "%s\n", q.Function)
			last = q.Function
		}
		note := ""
		if q.StandIn {
			note = " (stand-in)"
		}
		if q.NoIAM {
			note = " (token-authorized, no IAM)"
		}
		fmt.Fprintf(&b, "  %-32s %-70s %5d× %s%s\n", q.Action, q.Resource, q.Count, q.Call, note)
	}
	return b.String()
}
