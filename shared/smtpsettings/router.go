package smtpsettings

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"opsconsole/shared/api"
	"opsconsole/shared/mail"
	"opsconsole/shared/nodes"
	"opsconsole/shared/smtpclient"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// SendTimeout bounds one attempt through a tenant's server while sending a user's
// email (two attempts fit in the sending function's timeout).
const SendTimeout = 4 * time.Second

// Router is the mail.Sender of every email to a user: it sends through the settings
// of the nearest node on the recipient's lineage that has them (organization, then
// partner; one BatchGetItem), else through System. A tenant's server that fails is
// logged with the node and tried once more; then the send fails. It never falls back
// to System: that would send the branch's mail from an unverified domain.
type Router struct {
	System mail.Sender
	Store  *store.Store
	Cipher Cipher
	// Client talks to the tenants' servers.
	Client *smtpclient.Client
	// Retry is the pause before the second attempt.
	Retry time.Duration
}

// NewRouter is the Router of a function that sends mail: system is its transport.
func NewRouter(system mail.Sender, st *store.Store, awsCfg aws.Config) *Router {
	g := GuardFromEnv()
	return &Router{
		System: system, Store: st,
		Cipher: &KMS{Client: kms.NewFromConfig(awsCfg), KeyID: os.Getenv(KeyEnv)},
		Client: NewClient(g, SendTimeout),
		Retry:  200 * time.Millisecond,
	}
}

// Nearest finds the settings that mail to a recipient at lineage (root first) goes
// through: the organization's (lineage[3]), else the partner's (lineage[2]); nil when
// neither has any, or the recipient is above the partners.
func Nearest(ctx context.Context, st *store.Store, lineage []string) (*Item, error) {
	var keys []store.Item
	var order []string
	if len(lineage) > 3 {
		if k, _ := nodes.KindOfID(lineage[3]); k == tree.KindOrganization {
			keys, order = append(keys, nodes.SMTPKey(lineage[3])), append(order, lineage[3])
		}
	}
	if len(lineage) > 2 {
		if k, _ := nodes.KindOfID(lineage[2]); k == tree.KindPartner {
			keys, order = append(keys, nodes.SMTPKey(lineage[2])), append(order, lineage[2])
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	got, err := st.BatchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	byOwner := map[string]*Item{}
	for _, av := range got {
		var it Item
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, err
		}
		if it.Type == ItemType {
			byOwner[it.OwnerID] = &it
		}
	}
	for _, id := range order {
		if it := byOwner[id]; it != nil {
			return it, nil
		}
	}
	return nil, nil
}

// ErrTenantServer wraps the failure of a tenant's server.
var ErrTenantServer = errors.New("the branch's mail server did not take the message")

// Send implements mail.Sender.
func (rt *Router) Send(ctx context.Context, m mail.Message) error {
	st, err := Nearest(ctx, rt.Store, m.Lineage)
	if err != nil {
		return err
	}
	if st == nil {
		return rt.System.Send(ctx, m)
	}
	log := api.Log(ctx)
	for attempt := 1; ; attempt++ {
		reply, err := send(ctx, rt.Client, rt.Cipher, *st, m)
		if err != nil {
			return err
		}
		if reply.OK {
			log.InfoContext(ctx, "mail sent through the branch's server", "node", st.OwnerID, "nodeKind", st.OwnerKind,
				"host", st.Host, "code", reply.Code)
			return nil
		}
		log.WarnContext(ctx, "the branch's mail server failed", "node", st.OwnerID, "nodeKind", st.OwnerKind,
			"host", st.Host, "port", st.Port, "stage", reply.Stage, "code", reply.Code, "reply", reply.Message, "attempt", attempt)
		if attempt == 2 {
			return fmt.Errorf("%w (node %s, %s:%d): %s", ErrTenantServer, st.OwnerID, st.Host, st.Port, reply)
		}
		if err := store.Pause(ctx, rt.Retry); err != nil {
			return err
		}
	}
}
