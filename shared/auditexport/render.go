package auditexport

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"

	"opsconsole/shared/audit"
	"opsconsole/shared/auditdigest"
)

// CSVColumns are the columns of a CSV export, in order. changes is the entry's
// changes as JSON (the list's shape), so that no before or after value is flattened
// away; the impersonator's columns and changes make the row hold the whole entry
// (EntryOfCSV rebuilds it, to verify it), and proof is the entry's inclusion proof as
// JSON (auditdigest.Proof), empty when its period had no digest yet.
var CSVColumns = []string{
	"id", "at", "actorUserId", "actorEmail", "actorRole", "impersonatorUserId", "action",
	"targetType", "targetId", "targetName", "changes", "requestId", "sourceIp", "userAgent",
	"impersonatorEmail", "impersonatorRole", "impersonatorSessionId", auditdigest.ProofField,
}

// CSVRow is e as a CSV row of CSVColumns, with an empty proof.
func CSVRow(e audit.Entry) ([]string, error) {
	changes := e.Changes
	if changes == nil {
		changes = []audit.FieldChange{}
	}
	raw, err := json.Marshal(changes)
	if err != nil {
		return nil, err
	}
	var imp audit.Impersonator
	if e.Actor.Impersonator != nil {
		imp = *e.Actor.Impersonator
	}
	return []string{
		e.ID, e.At, e.Actor.UserID, e.Actor.Email, e.Actor.Role, imp.UserID, e.Action,
		e.Target.Type, e.Target.ID, e.Target.Name, string(raw), e.RequestID, e.SourceIP, e.UserAgent,
		imp.Email, imp.Role, imp.SessionID, "",
	}, nil
}

// EntryOfCSV rebuilds the entry of a CSV export row (header names the columns) and
// its proof: the inverse of CSVRow, an empty cell being an absent field (the entry's
// JSON omits those when empty).
func EntryOfCSV(header, row []string) (audit.Entry, *auditdigest.Proof, error) {
	col := map[string]string{}
	for i, h := range header {
		if i < len(row) {
			col[h] = row[i]
		}
	}
	e := audit.Entry{
		ID: col["id"], At: col["at"], Action: col["action"],
		Actor:     audit.Actor{UserID: col["actorUserId"], Email: col["actorEmail"], Role: col["actorRole"]},
		Target:    audit.Target{Type: col["targetType"], ID: col["targetId"], Name: col["targetName"]},
		RequestID: col["requestId"], SourceIP: col["sourceIp"], UserAgent: col["userAgent"],
	}
	if id := col["impersonatorUserId"]; id != "" {
		e.Actor.Impersonator = &audit.Impersonator{UserID: id, Email: col["impersonatorEmail"], Role: col["impersonatorRole"], SessionID: col["impersonatorSessionId"]}
	}
	if err := json.Unmarshal([]byte(col["changes"]), &e.Changes); err != nil {
		return e, nil, errors.New("its changes are not JSON")
	}
	var p *auditdigest.Proof
	if raw := col[auditdigest.ProofField]; raw != "" {
		p = &auditdigest.Proof{}
		if err := json.Unmarshal([]byte(raw), p); err != nil {
			return e, nil, errors.New("its proof is malformed")
		}
	}
	return e, p, nil
}

// encoder writes entries in one format, each with its proof (nil for none).
type encoder interface {
	write(e audit.Entry, p *auditdigest.Proof) error
	// flush writes what the encoder still buffers.
	flush() error
}

// newEncoder is the encoder of format over w; a CSV file starts with its header.
func newEncoder(format string, w io.Writer) (encoder, error) {
	if format == FormatCSV {
		c := csv.NewWriter(w)
		if err := c.Write(CSVColumns); err != nil {
			return nil, err
		}
		return csvEncoder{c}, nil
	}
	return ndjsonEncoder{json.NewEncoder(w)}, nil
}

// ndjsonEncoder writes one entry per line, as the list shows it, with its proof as
// one more member (json.Encoder ends each value with a newline).
type ndjsonEncoder struct{ enc *json.Encoder }

// ndjsonLine is an NDJSON export line: the entry's members, then proof.
type ndjsonLine struct {
	audit.Entry
	Proof *auditdigest.Proof `json:"proof,omitempty"`
}

func (n ndjsonEncoder) write(e audit.Entry, p *auditdigest.Proof) error {
	if e.Changes == nil {
		e.Changes = []audit.FieldChange{}
	}
	return n.enc.Encode(ndjsonLine{Entry: e, Proof: p})
}
func (ndjsonEncoder) flush() error { return nil }

type csvEncoder struct{ w *csv.Writer }

func (c csvEncoder) write(e audit.Entry, p *auditdigest.Proof) error {
	row, err := CSVRow(e)
	if err != nil {
		return err
	}
	if p != nil {
		raw, err := json.Marshal(p)
		if err != nil {
			return err
		}
		row[len(row)-1] = string(raw)
	}
	return c.w.Write(row)
}

func (c csvEncoder) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// contentType and extension of each format's file.
func fileType(format string) (contentType, ext string) {
	if format == FormatCSV {
		return "text/csv; charset=utf-8", "csv"
	}
	return "application/x-ndjson", "ndjson"
}
