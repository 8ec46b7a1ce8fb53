package framelog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Log is one log file in this framing, for the file steps both
// coordinators' stores take the same way: open with recovery, append, and
// replace by a compacted copy. The stores keep their file and its size
// themselves (their appenders differ: one synchronous, one group commit),
// and their own entry formats and errors.
type Log struct {
	Format *Format
	Path   string
	// Name is what errors and log lines call the log ("offsets log").
	Name   string
	Logger *slog.Logger
}

// compactSuffix names the file a compaction writes before renaming it
// over the log.
const compactSuffix = ".compact"

// Open loads the log and opens it for appending; the file is created when
// it does not exist. replay applies the data's valid frames (typically
// through Format.Replay) and returns the length of the valid prefix and,
// if the log does not end cleanly there, why. The tail after the valid
// prefix, torn by a crash or corrupt, is truncated away and logged, as
// Kafka recovers a segment at its first bad batch. A file that does not
// start with the log's magic is an error rather than overwritten: it is not
// ours. It returns the open file and the size of the valid log, where the
// next frame goes.
func (l Log) Open(replay func(data []byte) (valid int, err error)) (*os.File, int64, error) {
	dir := filepath.Dir(l.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", l.Name, err)
	}
	// A leftover of a compaction that crashed before its rename: the
	// original log is still complete.
	if err := os.Remove(l.Path + compactSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", l.Name, err)
	}
	data, err := os.ReadFile(l.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", l.Name, err)
	}
	valid, rerr := replay(data)
	if valid == 0 && errors.Is(rerr, l.Format.Corrupt) {
		return nil, 0, fmt.Errorf("%s %s: %w", l.Name, l.Path, rerr)
	}
	f, err := os.OpenFile(l.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", l.Name, err)
	}
	if valid == 0 {
		// New file, or one torn while its magic was written.
		if err := writeFresh(f, []byte(l.Format.Magic)); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%s %s: %w", l.Name, l.Path, err)
		}
		valid = len(l.Format.Magic)
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%s: %w", l.Name, err)
		}
	} else if rerr != nil {
		l.Logger.Warn(l.Name+": truncating invalid tail", "path", l.Path,
			"valid_bytes", valid, "dropped_bytes", len(data)-valid, "reason", rerr)
		if err := f.Truncate(int64(valid)); err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%s %s: truncate: %w", l.Name, l.Path, err)
		}
	}
	return f, int64(valid), nil
}

// Append writes frames at off, the end of the valid log, and fsyncs. On
// failure it truncates what part of them was written, so the next frame
// starts where the loader expects one and the log stays valid.
func (l Log) Append(f *os.File, off int64, frames []byte) error {
	_, err := f.WriteAt(frames, off)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(off); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("%s %s: append: %w", l.Name, l.Path, err)
	}
	return nil
}

// Replace makes data (a whole log, magic included: a compacted copy) the
// log's content: it is written and fsynced beside the log, then renamed
// over it, so a crash leaves either the old log or the new one complete
// (Open removes a leftover copy). It returns the new file, open for
// appending; the caller closes the old one. On error the old log is
// untouched.
func (l Log) Replace(data []byte) (*os.File, error) {
	tmp := l.Path + compactSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := writeFresh(f, data); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, l.Path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := syncDir(filepath.Dir(l.Path)); err != nil {
		// The rename happened; the new file is complete either way.
		l.Logger.Warn(l.Name+": sync dir after compaction", "err", err)
	}
	return f, nil
}

// writeFresh replaces f's content with data, durably.
func writeFresh(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
