package auditexport

import (
	"encoding/csv"
	"encoding/json"
	"io"

	"opsconsole/shared/audit"
)

// CSVColumns are the columns of a CSV export, in order. changes is the entry's
// changes as JSON (the list's shape), so that no before or after value is flattened
// away.
var CSVColumns = []string{
	"id", "at", "actorUserId", "actorEmail", "actorRole", "impersonatorUserId", "action",
	"targetType", "targetId", "targetName", "changes", "requestId", "sourceIp", "userAgent",
}

// CSVRow is e as a CSV row of CSVColumns.
func CSVRow(e audit.Entry) ([]string, error) {
	changes := e.Changes
	if changes == nil {
		changes = []audit.FieldChange{}
	}
	raw, err := json.Marshal(changes)
	if err != nil {
		return nil, err
	}
	imp := ""
	if e.Actor.Impersonator != nil {
		imp = e.Actor.Impersonator.UserID
	}
	return []string{
		e.ID, e.At, e.Actor.UserID, e.Actor.Email, e.Actor.Role, imp, e.Action,
		e.Target.Type, e.Target.ID, e.Target.Name, string(raw), e.RequestID, e.SourceIP, e.UserAgent,
	}, nil
}

// encoder writes entries in one format.
type encoder interface {
	write(e audit.Entry) error
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

// ndjsonEncoder writes one entry per line, as the list shows it (json.Encoder ends
// each value with a newline).
type ndjsonEncoder struct{ enc *json.Encoder }

func (n ndjsonEncoder) write(e audit.Entry) error {
	if e.Changes == nil {
		e.Changes = []audit.FieldChange{}
	}
	return n.enc.Encode(e)
}
func (ndjsonEncoder) flush() error { return nil }

type csvEncoder struct{ w *csv.Writer }

func (c csvEncoder) write(e audit.Entry) error {
	row, err := CSVRow(e)
	if err != nil {
		return err
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
