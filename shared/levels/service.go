package levels

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/cascade"
	"opsconsole/shared/counts"
	"opsconsole/shared/cursor"
	"opsconsole/shared/idempotency"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// View is a node as the API shows it: id, the ids of its ancestors below the
// platform, its name (or email), status, own fields, version and times.
type View map[string]any

func (l Level) view(it nodes.Item) View {
	v := View{
		"id": it.ID, l.nameField(): it.Name, "status": it.Status,
		"version": it.Version, "createdAt": it.CreatedAt, "updatedAt": it.UpdatedAt,
	}
	for i, id := range it.Path {
		if i < len(lineageKinds) && lineageKinds[i] != tree.KindPlatform {
			v[idField(lineageKinds[i])] = id
		}
	}
	for _, f := range l.Fields {
		if val, ok := it.Attrs[f.Name]; ok {
			v[f.Name] = val
		}
	}
	return v
}

// auditFields are the fields the audit log compares.
func (l Level) auditFields(it *nodes.Item) map[string]any {
	if it == nil {
		return nil
	}
	m := map[string]any{l.nameField(): it.Name, "status": it.Status}
	maps.Copy(m, it.Attrs)
	return m
}

// setIndexKeys derives the node's index keys from its fields.
func (l Level) setIndexKeys(it *nodes.Item) {
	filter := it.Status
	if l.filter() != "status" {
		filter = filterValue(it.Attrs[l.filter()])
	}
	it.SetIndexKeys(filter, l.AcrossBranch)
	if l.Subtree {
		it.SetSubtreeKeys(filter)
	}
}

// filterValue is how a field's value appears in an index key and a query string.
func filterValue(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return ""
}

// Service serves one level's operations.
type Service struct {
	Level   Level
	Store   *store.Store
	Cursors cursor.Signer
	Callers api.Callers
}

func (s *Service) op(verb string) tree.Operation {
	return tree.Operation(s.Level.Resource + "." + verb)
}

// Operations lists the level's operations keyed by verb (create, list, get, update,
// delete and its Actions); the function table names each (Level.Create, …).
func (s *Service) Operations() map[string]api.Operation {
	res, kind := "/v1/"+s.Level.Resource, string(s.Level.Kind)
	mk := func(verb, method, path string, target api.Target, h api.Handler) api.Operation {
		return api.Operation{ID: s.op(verb), Method: method, Path: path, Kind: kind, Callers: s.Callers, Target: target, Handle: h}
	}
	ops := map[string]api.Operation{
		"create": mk("create", http.MethodPost, res, s.parentFromBody, idempotency.Wrap(s.Store, s.create)),
		"list":   mk("list", http.MethodGet, res, s.scopeFromQuery, s.list),
		"get":    mk("get", http.MethodGet, res+"/{id}", s.target, s.get),
		"update": mk("update", http.MethodPatch, res+"/{id}", s.target, s.update),
		"delete": mk("delete", http.MethodDelete, res+"/{id}", s.target, s.delete),
	}
	if tree.ChildKind(s.Level.Kind) != "" {
		// Only a level whose nodes can have children can cascade (not end users).
		ops["delete"] = withLimit(ops["delete"], throttle.PerNode(s.Store, throttle.Cascades, cascadeCharged))
	}
	for _, a := range s.Level.Actions {
		ops[a.Verb] = mk(a.Verb, http.MethodPost, res+"/{id}/"+a.Verb, s.target, s.transition(a))
	}
	return ops
}

// target loads the node named by the path. An id that cannot be of this level is
// answered like a missing one, without a read.
func (s *Service) target(r *http.Request) (tree.Node, any, error) {
	it, err := s.load(r.Context(), s.Level.Kind, r.PathValue("id"))
	if err != nil {
		return tree.Node{}, nil, err
	}
	return it.Node(), it, nil
}

// load reads node id of kind; a missing node, or one of another kind, is a 404.
func (s *Service) load(ctx context.Context, kind tree.Kind, id string) (nodes.Item, error) {
	if kind == tree.KindPlatform {
		id = tree.PlatformID
	} else if !nodes.ValidID(kind, id) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	it, err := nodes.Get(ctx, s.Store, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && it.Kind != kind) {
		return nodes.Item{}, problem.NotFound(string(kind))
	}
	return it, err
}

func loaded(r *http.Request) nodes.Item { return api.TargetOf(r.Context()).(nodes.Item) }

func (s *Service) nameTaken() error {
	field := s.Level.nameField()
	return problem.Conflict("name-taken", "another "+string(s.Level.Kind)+" here already has this "+field,
		problem.Field(field, "already taken"))
}

// roleAllows refuses, before anything is read, a caller whose role may never do verb
// on this level, wherever the target: the answer then reveals nothing of any branch.
func (s *Service) roleAllows(r *http.Request, verb string) error {
	if err := tree.Allow(s.op(verb), api.CallerOf(r.Context()), nil); err != nil {
		return problem.Forbidden("your role may not " + string(s.op(verb)))
	}
	return nil
}

// created carries what the create's target loader read to the handler.
type created struct {
	parent nodes.Item
	body   body
}

// parentFromBody decodes a create's body and loads the parent it names (the platform
// for distributors): the policy then checks that the caller may create under it.
func (s *Service) parentFromBody(r *http.Request) (tree.Node, any, error) {
	if err := s.roleAllows(r, "create"); err != nil {
		return tree.Node{}, nil, err
	}
	b, err := decodeBody(r)
	if err != nil {
		return tree.Node{}, nil, err
	}
	var parentID string
	if f := s.Level.ParentField; f != "" {
		v, ok := b[f]
		if !ok || isNull(v) {
			return tree.Node{}, nil, problem.Invalid("the parent is missing", problem.Field(f, "is required"))
		}
		id, fe := text(f, v)
		if fe == nil && !nodes.ValidID(s.Level.Parent, id) {
			e := problem.Field(f, "must be the id of a "+string(s.Level.Parent))
			fe = &e
		}
		if fe != nil {
			return tree.Node{}, nil, problem.Invalid("the parent id is malformed", *fe)
		}
		parentID = id
	}
	parent, err := s.load(r.Context(), s.Level.Parent, parentID)
	if err != nil {
		return tree.Node{}, nil, err
	}
	return parent.Node(), created{parent: parent, body: b}, nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	c := api.TargetOf(r.Context()).(created)
	allowed := s.Level.fieldNames()
	if s.Level.ParentField != "" {
		allowed = append(allowed, s.Level.ParentField)
	}
	errs := unknown(c.body, allowed...)
	e, fes := s.Level.readEdit(c.body, true)
	if errs = append(errs, fes...); len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	it := nodes.NewChild(c.parent.Node(), s.Level.Kind, *e.name, s.Level.Statuses[0], time.Now())
	if len(e.set) > 0 {
		it.Attrs = e.set
	}
	s.Level.setIndexKeys(&it)
	add, err := nodes.CountChild(c.parent.ID)
	if err != nil {
		return err
	}
	parentField := s.Level.ParentField
	if parentField == "" {
		parentField = "body"
	}
	notFound := problem.NotFound(string(s.Level.Parent))
	notFound.Errors = []problem.FieldError{problem.Field(parentField, "no such "+string(s.Level.Parent))}
	put, err := store.Put(it, store.NotExists())
	if err != nil {
		return err
	}
	claim, err := nodes.ClaimName(it, s.nameTaken())
	if err != nil {
		return err
	}
	writes := []store.Write{put, claim, add.FailsWith(notFound)}
	if err := s.write(r, "created", nil, &it, writes...); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/"+s.Level.Resource+"/"+it.ID)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusCreated, s.Level.view(it))
}

// write commits writes with the change record of the change from before to after
// (either may be nil), in one transaction, and, for a distributor, its status
// replicas: set to after, or deleted with the node (nodes.StatusWrites). Every
// create, update, status action and delete of a level comes through here, so the
// replicas the caller check reads never differ from the node.
func (s *Service) write(r *http.Request, verb string, before, after *nodes.Item, writes ...store.Write) error {
	target := after
	if target == nil {
		target = before
		writes = append(writes, nodes.StatusDeletes(*before)...)
	} else {
		writes = append(writes, nodes.StatusWrites(*after, nil)...)
	}
	rec, err := audit.Record(r, audit.Change{
		Action: string(s.Level.Kind) + "." + verb,
		Target: audit.Target{Type: string(s.Level.Kind), ID: target.ID, Name: target.Name},
		Scope:  audit.NodeScope(target.Node()),
		Before: s.Level.auditFields(before), After: s.Level.auditFields(after),
		Version: target.Version,
	})
	if err != nil {
		return err
	}
	return s.Store.Transact(r.Context(), append(writes, rec)...)
}

// advance makes after, an edited copy of before, the next version, and returns the
// transaction item that stores it in place.
func (l Level) advance(before nodes.Item, after *nodes.Item) (store.Write, error) {
	after.Version++
	after.UpdatedAt = nodes.Stamp(time.Now())
	l.setIndexKeys(after)
	return updateNode(before, *after)
}

// updateNode is the transaction item that turns before into after in place, if before
// is still the current version. The children counter and the keys are not touched.
func updateNode(before, after nodes.Item) (store.Write, error) {
	b, err := attributevalue.MarshalMap(before)
	if err != nil {
		return store.Write{}, err
	}
	a, err := attributevalue.MarshalMap(after)
	if err != nil {
		return store.Write{}, err
	}
	for _, k := range []string{"PK", "SK", "children"} {
		delete(a, k)
		delete(b, k)
	}
	var remove []string
	for k := range b {
		if _, ok := a[k]; !ok {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	upd, err := store.Update(nodes.Key(before.ID), a, remove,
		expression.Name("version").Equal(expression.Value(before.Version)))
	return upd.FailsWith(problem.Stale()), err
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	it := loaded(r)
	w.Header().Set("ETag", api.ETag(it.Version))
	return api.WriteJSON(w, http.StatusOK, s.Level.view(it))
}

func (s *Service) update(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	b, err := decodeBody(r)
	if err != nil {
		return err
	}
	errs := unknown(b, s.Level.fieldNames()...)
	e, fes := s.Level.readEdit(b, false)
	if errs = append(errs, fes...); len(errs) > 0 {
		return problem.Invalid("the body is invalid", errs...)
	}
	if len(b) == 0 {
		return problem.Invalid("the body changes nothing",
			problem.Field("body", "give at least one of "+strings.Join(s.Level.fieldNames(), ", ")))
	}
	// The body is judged before the version: a malformed request is a 400 whatever its If-Match.
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	after := before
	after.Attrs = maps.Clone(before.Attrs)
	if after.Attrs == nil {
		after.Attrs = map[string]any{}
	}
	if e.name != nil {
		after.Name = *e.name
	}
	maps.Copy(after.Attrs, e.set)
	for _, f := range e.remove {
		delete(after.Attrs, f)
	}
	if len(after.Attrs) == 0 {
		after.Attrs = nil
	}
	if after.Name == before.Name && maps.EqualFunc(after.Attrs, before.Attrs, func(x, y any) bool { return x == y }) {
		w.Header().Set("ETag", api.ETag(before.Version))
		return api.WriteJSON(w, http.StatusOK, s.Level.view(before))
	}
	upd, err := s.Level.advance(before, &after)
	if err != nil {
		return err
	}
	writes := []store.Write{upd}
	if nodes.NameKey(after.Name) != before.NameKey {
		claim, err := nodes.ClaimName(after, s.nameTaken())
		if err != nil {
			return err
		}
		writes = append(writes, nodes.ReleaseName(before, problem.Stale()), claim)
	}
	if err := s.write(r, "updated", &before, &after, writes...); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, s.Level.view(after))
}

// transition builds the handler of a status action.
func (s *Service) transition(a Action) api.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		before := loaded(r)
		if err := api.CheckVersion(r, before.Version); err != nil {
			return err
		}
		if before.Status != a.From {
			return problem.Conflict("invalid-transition", "the "+string(s.Level.Kind)+" is "+before.Status+"; only a "+a.From+" one can be "+a.Past,
				problem.Field("status", "is "+before.Status))
		}
		after := before
		after.Status = a.To
		upd, err := s.Level.advance(before, &after)
		if err != nil {
			return err
		}
		if err := s.write(r, a.Past, &before, &after, upd); err != nil {
			return err
		}
		w.Header().Set("ETag", api.ETag(after.Version))
		return api.WriteJSON(w, http.StatusOK, s.Level.view(after))
	}
}

// errRefused marks a delete whose condition failed: stale, or children appeared.
var errRefused = errors.New("delete refused")

// cascadeParam reads a delete's query string: nothing, or cascade=true|false.
func cascadeParam(r *http.Request) (bool, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return false, problem.Invalid("the query string is malformed", problem.Field("query", "malformed"))
	}
	var errs []problem.FieldError
	cascade := false
	for name, vs := range values {
		switch {
		case name != "cascade":
			errs = append(errs, problem.Field(name, "unknown query parameter"))
		case len(vs) != 1 || (vs[0] != "true" && vs[0] != "false"):
			errs = append(errs, problem.Field("cascade", "must be true or false, given once"))
		default:
			cascade = vs[0] == "true"
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b problem.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return false, problem.Invalid("the query string is invalid", errs...)
	}
	return cascade, nil
}

func withLimit(op api.Operation, l *api.NodeLimit) api.Operation {
	op.NodeLimit = l
	return op
}

// cascadeCharged is the node a delete counts against in the cascades' allowance
// (throttle.Cascades): see chargedForCascade.
func cascadeCharged(r *http.Request) string {
	it, _ := api.TargetOf(r.Context()).(nodes.Item)
	want, err := cascadeParam(r)
	return chargedForCascade(want && err == nil, it)
}

// chargedForCascade is the node charged for the delete of it, cascade=true asked or
// not: the parent of a node that has children, when a cascade is asked; "" (not
// counted) otherwise, for a delete without cascade=true, or of a childless node,
// which is a single delete whatever the query says. (A node whose first child appears
// between the guard's read and the delete's transaction begins its cascade uncounted:
// a race no caller can repeat at will.)
//
// The parent, not the caller's node nor the top of the branch: the work a cascade
// makes is a subtree of the parent's, so each node's allowance bounds how much of its
// own subtree is cut per hour, whoever asks (more admins, or login-as into the
// children, do not multiply it), and a tenant spends only its own allowance, never a
// sibling's (counting per distributor would let one organization exhaust its whole
// branch's). Distributors count against the platform, whose own admins are few.
func chargedForCascade(cascadeAsked bool, it nodes.Item) string {
	if !cascadeAsked || it.Children <= 0 || len(it.Path) == 0 {
		return ""
	}
	return it.Path[len(it.Path)-1]
}

// deleting answers a cascade that has begun: 202, the subtree goes in the background.
func deleting(w http.ResponseWriter, it nodes.Item) error {
	return api.WriteJSON(w, http.StatusAccepted, map[string]string{"id": it.ID, "status": cascade.StatusDeleting})
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	before := loaded(r)
	wantCascade, err := cascadeParam(r)
	if err != nil {
		return err
	}
	if err := api.CheckVersion(r, before.Version); err != nil {
		return err
	}
	if before.Children > 0 {
		if wantCascade {
			if err := cascade.Begin(r, s.Store, before, s.Level.auditFields(&before)); err != nil {
				return err
			}
			return deleting(w, before)
		}
		return s.hasChildren(r.Context(), before)
	}
	// The children counter, checked in the transaction, makes the refusal exact: a
	// child created a moment ago counts, whatever the indexes show yet.
	c, err := store.Cond(nodes.Childless(before.Version))
	if err != nil {
		return err
	}
	del := store.Delete(nodes.Key(before.ID), c)
	parent := before.Path[len(before.Path)-1]
	sub, err := store.Add(nodes.Key(parent), "children", -1)
	if err != nil {
		return err
	}
	writes := []store.Write{
		del.FailsWith(errRefused),
		sub,
		nodes.ReleaseName(before, problem.Stale()),
		store.Delete(counts.Key(before.ID), nil),
	}
	err = s.write(r, "deleted", &before, nil, writes...)
	if errors.Is(err, errRefused) {
		now, err := nodes.Get(r.Context(), s.Store, before.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return problem.NotFound(string(s.Level.Kind))
		case err != nil:
			return err
		case now.Version != before.Version || now.Children == 0:
			return problem.Stale()
		case wantCascade:
			if err := cascade.Begin(r, s.Store, now, s.Level.auditFields(&now)); err != nil {
				return err
			}
			return deleting(w, now)
		}
		return s.hasChildren(r.Context(), now)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hasChildren refuses the delete of n with the counts of what is below it.
func (s *Service) hasChildren(ctx context.Context, n nodes.Item) error {
	c, err := counts.Get(ctx, s.Store, n.ID)
	if err != nil {
		return err
	}
	return problem.HasChildren(string(s.Level.Kind), c)
}
