package mail

import (
	"context"
	"errors"
	"net/mail"
	"net/url"
	"regexp"
	"sync"

	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// Branding is how a partner's emails look: the name they are signed with, a logo,
// the accent colour and the address recipients may write to for help.
type Branding struct {
	Name         string
	LogoURL      string
	Colour       string
	SupportEmail string
}

// Platform is the branding of mail to users above any partner (platform and
// distributor staff) and the default of every field a partner leaves unset.
var Platform = Branding{Name: "Operations Console", Colour: "#1f6feb"}

// The partner node's attributes that hold its branding. They are read from the node's
// attrs when present; the partner level does not yet let them be set through the API.
const (
	AttrBrandName    = "brandName"
	AttrLogoURL      = "logoUrl"
	AttrBrandColour  = "brandColour"
	AttrSupportEmail = "supportEmail"
)

var hexColour = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^#[0-9a-fA-F]{6}$`) })

// withDefaults fills what is unset or unusable from the platform's branding: a colour
// that is not #rrggbb, a logo that is not an absolute http(s) URL and a support address
// that is not an address are dropped, so no template ever renders them.
func (b Branding) withDefaults() Branding {
	if b.Name == "" {
		b.Name = Platform.Name
	}
	if !hexColour().MatchString(b.Colour) {
		b.Colour = Platform.Colour
	}
	if u, err := url.Parse(b.LogoURL); b.LogoURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		b.LogoURL = Platform.LogoURL
	}
	if a, err := mail.ParseAddress(b.SupportEmail); b.SupportEmail == "" || err != nil || a.Address != b.SupportEmail {
		b.SupportEmail = Platform.SupportEmail
	}
	return b
}

// FromAttrs reads a partner's branding from its node's attributes.
func FromAttrs(attrs map[string]any) Branding {
	s := func(k string) string {
		v, _ := attrs[k].(string)
		return v
	}
	return Branding{Name: s(AttrBrandName), LogoURL: s(AttrLogoURL), Colour: s(AttrBrandColour), SupportEmail: s(AttrSupportEmail)}.withDefaults()
}

// BrandingFor finds the branding of mail about node: that of the nearest partner on
// its lineage (the node itself when it is a partner; its ancestor at the partner level
// when it lies below one), or the platform's above the partners. One GetItem, none
// above the partners.
func BrandingFor(ctx context.Context, st *store.Store, node tree.Node) (Branding, error) {
	partnerID := ""
	lineage := node.Lineage()
	// A lineage is root first: platform, distributor, partner, …
	if len(lineage) >= 3 {
		partnerID = lineage[2]
	}
	if partnerID == "" {
		return Platform.withDefaults(), nil
	}
	it, err := nodes.Get(ctx, st, partnerID)
	if errors.Is(err, store.ErrNotFound) {
		return Platform.withDefaults(), nil
	}
	if err != nil {
		return Branding{}, err
	}
	if it.Kind != tree.KindPartner {
		return Platform.withDefaults(), nil
	}
	return PartnerBranding(it), nil
}

// PartnerBranding is the branding of a partner's node, for a caller that has read it.
func PartnerBranding(partner nodes.Item) Branding {
	b := FromAttrs(partner.Attrs)
	if _, ok := partner.Attrs[AttrBrandName].(string); !ok {
		// A partner without a brand name signs with its own name.
		b.Name = partner.Name
	}
	return b.withDefaults()
}
