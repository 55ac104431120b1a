package smtpsettings

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"opsconsole/shared/api"
	"opsconsole/shared/audit"
	"opsconsole/shared/clientservices"
	"opsconsole/shared/deps"
	"opsconsole/shared/identity"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/problem"
	"opsconsole/shared/smtpclient"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
	"opsconsole/shared/tree"
)

// Service serves the mail settings of the three kinds of owner.
type Service struct {
	Store   *store.Store
	Callers api.Callers
	Cipher  Cipher
	Guard   Guard
	// Client talks to the tenants' servers (its dialer's Control is Guard's).
	Client *smtpclient.Client
	Now    func() time.Time
}

// TestTimeout bounds a test's conversation with the server, so that POST …/smtp/test
// answers within 20 s with the reads and the decryption around it (the function's
// timeout in template.yaml is above both).
const TestTimeout = 15 * time.Second

// NewClient is the client of the tenants' servers: connections only where guard
// allows, within timeout.
func NewClient(guard Guard, timeout time.Duration) *smtpclient.Client {
	return &smtpclient.Client{
		Dialer:  &net.Dialer{Timeout: timeout, Control: guard.Control},
		Timeout: timeout,
	}
}

// The functions: each serves its operation for the three owners.
const (
	FunctionGet    = "smtp-settings-get"
	FunctionPut    = "smtp-settings-put"
	FunctionDelete = "smtp-settings-delete"
	FunctionTest   = "smtp-settings-test"
)

// Function is the constructor of the named function's operations, for the function
// table (shared/lambdas) and the function's main.
func Function(name string) func(deps.Deps) []api.Operation {
	return func(d deps.Deps) []api.Operation {
		s := &Service{Store: d.Store, Callers: d.Callers}
		if d.Store != nil {
			s.Guard = GuardFromEnv()
			s.Client = NewClient(s.Guard, TestTimeout)
			if name == FunctionPut || name == FunctionTest {
				s.Cipher = &KMS{Client: kms.NewFromConfig(d.Config.AWS), KeyID: os.Getenv(KeyEnv)}
			}
		}
		ops, ok := s.Operations()[name]
		if !ok {
			panic("smtpsettings: no function " + name)
		}
		return ops
	}
}

// owner is what a route's settings belong to.
type owner struct {
	kind    string // client-service, partner, organization
	id      string
	name    string
	lineage []string // the owner's lineage, the owner last: the audit scope
	key     store.Item
	pk      string // the partition of the owner and its settings
	// settings are the stored ones; nil when the owner has none.
	settings *Item
}

// The owners, by their collection.
var owners = []struct {
	resource string
	kind     string
}{
	{"client-services", clientservices.Kind},
	{"partners", string(tree.KindPartner)},
	{"organizations", string(tree.KindOrganization)},
}

// Operations lists the operations of each function (one per owner).
func (s *Service) Operations() map[string][]api.Operation {
	out := map[string][]api.Operation{}
	for _, o := range owners {
		base := "/v1/" + o.resource + "/{id}/smtp"
		target := s.target(o.kind)
		mk := func(id tree.Operation, method, path string, h api.Handler) api.Operation {
			return api.Operation{ID: id, Method: method, Path: path, Kind: o.kind, Callers: s.Callers, Target: target, Handle: h}
		}
		test := mk(tree.OpSMTPTest, http.MethodPost, base+"/test", s.test)
		test.NodeLimit = throttle.PerTarget(s.Store, throttle.SMTPTests)
		out[FunctionGet] = append(out[FunctionGet], mk(tree.OpSMTPGet, http.MethodGet, base, s.get))
		out[FunctionPut] = append(out[FunctionPut], mk(tree.OpSMTPPut, http.MethodPut, base, s.put))
		out[FunctionDelete] = append(out[FunctionDelete], mk(tree.OpSMTPDelete, http.MethodDelete, base, s.delete))
		out[FunctionTest] = append(out[FunctionTest], test)
	}
	return out
}

// target loads the owner the path names and its settings, in one BatchGetItem. An
// owner outside the caller's branch is answered by the middleware like a missing one.
func (s *Service) target(kind string) api.Target {
	return func(r *http.Request) (tree.Node, any, error) {
		id := r.PathValue("id")
		var key store.Item
		switch kind {
		case clientservices.Kind:
			if !clientservices.ValidID(id) {
				return tree.Node{}, nil, problem.NotFound(kind)
			}
			key = clientservices.Key(id)
		default:
			if !nodes.ValidID(tree.Kind(kind), id) {
				return tree.Node{}, nil, problem.NotFound(kind)
			}
			key = nodes.Key(id)
		}
		o := owner{kind: kind, id: id, key: nodes.SMTPKey(id), pk: nodes.PK(id)}
		if kind == clientservices.Kind {
			o.key, o.pk = clientservices.SMTPKey(id), clientservices.PK(id)
		}
		got, err := s.Store.BatchGet(r.Context(), []store.Item{key, o.key})
		if err != nil {
			return tree.Node{}, nil, err
		}
		var node *tree.Node
		for _, av := range got {
			var head struct {
				SK   string `dynamodbav:"SK"`
				Type string `dynamodbav:"type"`
			}
			if err := attributevalue.UnmarshalMap(av, &head); err != nil {
				return tree.Node{}, nil, err
			}
			switch {
			case head.SK == nodes.SMTPSK && head.Type == ItemType:
				var it Item
				if err := attributevalue.UnmarshalMap(av, &it); err != nil {
					return tree.Node{}, nil, err
				}
				o.settings = &it
			case kind == clientservices.Kind && head.Type == clientservices.ItemType:
				var it clientservices.Item
				if err := attributevalue.UnmarshalMap(av, &it); err != nil {
					return tree.Node{}, nil, err
				}
				n := it.PolicyNode()
				node, o.name, o.lineage = &n, it.Name, append(append([]string(nil), it.Path...), it.ID)
			case kind != clientservices.Kind && head.SK == nodes.SK:
				var it nodes.Item
				if err := attributevalue.UnmarshalMap(av, &it); err != nil {
					return tree.Node{}, nil, err
				}
				if string(it.Kind) != kind {
					return tree.Node{}, nil, problem.NotFound(kind)
				}
				n := it.Node()
				node, o.name, o.lineage = &n, it.Name, n.Lineage()
			}
		}
		if node == nil {
			return tree.Node{}, nil, problem.NotFound(kind)
		}
		return *node, o, nil
	}
}

func loaded(r *http.Request) owner { return api.TargetOf(r.Context()).(owner) }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	o := loaded(r)
	if o.settings == nil {
		return api.WriteJSON(w, http.StatusOK, SystemView)
	}
	w.Header().Set("ETag", api.ETag(o.settings.Version))
	return api.WriteJSON(w, http.StatusOK, o.settings.View())
}

// record is the change record of the owner's settings from before to after. Its
// version is the settings' own (after the change, or the last one for a removal),
// the ETag of …/smtp, not the owner's.
func record(r *http.Request, o owner, verb string, before, after *Item) (store.Write, error) {
	version := 0
	switch {
	case after != nil:
		version = after.Version
	case before != nil:
		version = before.Version
	}
	return audit.Record(r, audit.Change{
		Action: o.kind + ".smtp-" + verb,
		Target: audit.Target{Type: o.kind, ID: o.id, Name: o.name},
		Scope:  o.lineage,
		Before: auditFields(before), After: auditFields(after),
		Version: version,
	})
}

// put serves PUT …/smtp: the whole settings (a password left out keeps the stored
// one), judged before If-Match; the password is encrypted before anything is written.
func (s *Service) put(w http.ResponseWriter, r *http.Request) error {
	o := loaded(r)
	var b map[string]any
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	if b == nil {
		return problem.MalformedJSON("the body must be a JSON object")
	}
	st, errs := ReadSettings(b, s.Guard)
	keeps := st.Password == nil && st.Username != ""
	if len(errs) == 0 && keeps && (o.settings == nil || len(o.settings.PasswordCiphertext) == 0) {
		errs = append(errs, problem.Field("password", "is required with a username when none is stored"))
	}
	if len(errs) > 0 {
		return problem.Invalid("the mail settings are invalid", errs...)
	}
	current := 0
	if o.settings != nil {
		current = o.settings.Version
	}
	if err := api.CheckVersion(r, current); err != nil {
		return err
	}
	now := nodes.Stamp(s.now())
	after := Item{
		PK: o.pk, SK: nodes.SMTPSK, Type: ItemType,
		OwnerID: o.id, OwnerKind: o.kind, Host: st.Host, Port: st.Port, TLSMode: st.TLSMode, Username: st.Username,
		FromAddress: st.FromAddress, FromName: st.FromName, Version: current + 1, CreatedAt: now, UpdatedAt: now,
	}
	if o.settings != nil {
		after.CreatedAt = o.settings.CreatedAt
	}
	switch {
	case st.Username == "":
		// No authentication: a password would be of no use.
	case st.Password != nil:
		ct, err := s.Cipher.Encrypt(r.Context(), []byte(*st.Password), o.id)
		if err != nil {
			return err
		}
		after.PasswordCiphertext, after.PasswordSetAt = ct, now
	default:
		after.PasswordCiphertext, after.PasswordSetAt = o.settings.PasswordCiphertext, o.settings.PasswordSetAt
	}
	cond := store.NotExists()
	if o.settings != nil {
		cond = store.VersionIs(o.settings.Version)
	}
	put, err := store.Put(after, cond)
	if err != nil {
		return err
	}
	rec, err := record(r, o, "set", o.settings, &after)
	if err != nil {
		return err
	}
	if err := s.Store.Transact(r.Context(), put.FailsWith(problem.Stale()), rec); err != nil {
		return err
	}
	w.Header().Set("ETag", api.ETag(after.Version))
	return api.WriteJSON(w, http.StatusOK, after.View())
}

// delete serves DELETE …/smtp: "use system SMTP". An owner without settings has
// nothing to delete (204, no entry).
func (s *Service) delete(w http.ResponseWriter, r *http.Request) error {
	o := loaded(r)
	if len(r.URL.RawQuery) > 0 {
		return problem.Invalid("the query string is invalid", problem.Field("query", "takes no parameters"))
	}
	if o.settings == nil {
		if err := api.CheckVersion(r, 0); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := api.CheckVersion(r, o.settings.Version); err != nil {
		return err
	}
	rec, err := record(r, o, "removed", o.settings, nil)
	if err != nil {
		return err
	}
	del := store.Delete(o.key, store.VersionIs(o.settings.Version)).FailsWith(problem.Stale())
	if err := s.Store.Transact(r.Context(), del, rec); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TestRequest is the body of POST …/smtp/test.
type TestRequest struct {
	To *string `json:"to"`
}

// test serves POST …/smtp/test {to}: a test email through the stored settings,
// answered with the server's reply by stage (200 whatever the server said).
func (s *Service) test(w http.ResponseWriter, r *http.Request) error {
	o := loaded(r)
	var b TestRequest
	if err := api.DecodeJSON(r, &b); err != nil {
		return err
	}
	if b.To == nil {
		return problem.Invalid("the recipient is missing", problem.Field("to", "is required"))
	}
	to := identity.TrimEmail(*b.To)
	if !identity.ValidEmail(to) {
		return problem.Invalid("the recipient is invalid", problem.Field("to", "must be an email address (name@example.com)"))
	}
	if o.settings == nil {
		return problem.Conflict("smtp-not-configured", "this "+o.kind+" uses the system's mail: there is nothing to test; PUT …/smtp first")
	}
	m := mail.Message{
		To: to, Subject: "Test email from the operations console",
		Text: "This is a test email sent through your own mail server (" + o.settings.Host + "), as you asked.\n",
		HTML: "<p>This is a test email sent through your own mail server, as you asked.</p>",
	}
	reply, err := s.sendThrough(r.Context(), *o.settings, m)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, reply)
}

// sendThrough composes m and sends it through settings st: the server's reply, or an
// error when the password could not be decrypted (ours, not the server's).
func (s *Service) sendThrough(ctx context.Context, st Item, m mail.Message) (smtpclient.Reply, error) {
	return send(ctx, s.Client, s.Cipher, st, m)
}

func send(ctx context.Context, c *smtpclient.Client, cipher Cipher, st Item, m mail.Message) (smtpclient.Reply, error) {
	srv := smtpclient.Server{Host: st.Host, Port: st.Port, TLSMode: st.TLSMode, Username: st.Username}
	if st.Username != "" && len(st.PasswordCiphertext) > 0 {
		pw, err := cipher.Decrypt(ctx, st.PasswordCiphertext, st.OwnerID)
		if err != nil {
			return smtpclient.Reply{}, fmt.Errorf("decrypt the smtp password of %s: %w", st.OwnerID, err)
		}
		srv.Password = string(pw)
	}
	if st.FromName != "" {
		m.FromName = st.FromName
	}
	raw, err := mail.Compose(st.FromAddress, m, time.Now())
	if err != nil {
		return smtpclient.Reply{}, err
	}
	return c.Send(ctx, srv, st.FromAddress, m.To, raw), nil
}
