package errorfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

func create(t testing.TB, fsys vfs.FS, name string) vfs.File {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFaultsByOpAndPath(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.index")
	for _, tc := range []struct {
		name  string
		fault errorfs.Fault
		run   func(fsys vfs.FS) error
		want  error // nil: the operation must succeed
	}{
		{"write EIO", errorfs.Fault{Ops: errorfs.OpWrite, Path: errorfs.Suffix(".log")},
			func(fsys vfs.FS) error { _, err := create(t, fsys, a).WriteAt([]byte("x"), 0); return err }, syscall.EIO},
		{"write elsewhere passes", errorfs.Fault{Ops: errorfs.OpWrite, Path: errorfs.Suffix(".log")},
			func(fsys vfs.FS) error { _, err := create(t, fsys, b).WriteAt([]byte("x"), 0); return err }, nil},
		{"fsync ENOSPC", errorfs.Fault{Ops: errorfs.OpSync, Err: errorfs.ENOSPC},
			func(fsys vfs.FS) error { return create(t, fsys, a).Sync() }, syscall.ENOSPC},
		{"open", errorfs.Fault{Ops: errorfs.OpOpen, Path: errorfs.Suffix(".index")},
			func(fsys vfs.FS) error { _, err := fsys.OpenFile(b, os.O_RDWR|os.O_CREATE, 0o644); return err }, syscall.EIO},
		{"rename by target", errorfs.Fault{Ops: errorfs.OpRename, Path: errorfs.Suffix(".snapshot")},
			func(fsys vfs.FS) error {
				create(t, fsys, a)
				return fsys.Rename(a, filepath.Join(dir, "1.snapshot"))
			}, syscall.EIO},
		{"directory fsync", errorfs.Fault{Ops: errorfs.OpSyncDir, Path: errorfs.Under(dir)},
			func(fsys vfs.FS) error { return fsys.SyncDir(dir) }, syscall.EIO},
		{"other op passes", errorfs.Fault{Ops: errorfs.OpSync},
			func(fsys vfs.FS) error { _, err := create(t, fsys, a).WriteAt([]byte("x"), 0); return err }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := errorfs.Wrap(vfs.Default)
			fsys.Inject(tc.fault)
			err := tc.run(fsys)
			if tc.want == nil {
				assert.NoError(t, err)
				assert.Zero(t, fsys.Injected())
				return
			}
			assert.ErrorIs(t, err, tc.want)
			var pe *fs.PathError
			assert.True(t, errors.As(err, &pe), "wrapped like the os package's errors: %v", err)
			assert.Equal(t, 1, fsys.Injected())
		})
	}
}

func TestOnceAndPersistentAndHeal(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	f := create(t, fsys, filepath.Join(dir, "f"))

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Once: true})
	assert.ErrorIs(t, f.Sync(), syscall.EIO)
	assert.NoError(t, f.Sync(), "a Once fault disarms itself")

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync})
	assert.ErrorIs(t, f.Sync(), syscall.EIO)
	assert.ErrorIs(t, f.Sync(), syscall.EIO, "a persistent fault stays")
	fsys.Heal()
	assert.NoError(t, f.Sync())
	assert.Equal(t, 3, fsys.Injected())
}

func TestTornWrite(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	name := filepath.Join(dir, "f")
	f := create(t, fsys, name)
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpWrite, Err: errorfs.ENOSPC, Torn: true, Once: true})
	n, err := f.WriteAt([]byte("0123456789"), 0)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, 5, n)
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, "01234", string(got), "half the bytes reached the file")
}

func TestRecords(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	sub := filepath.Join(dir, "p-0")
	require.NoError(t, vfs.MkdirAll(fsys, sub, 0o755))
	f := create(t, fsys, filepath.Join(sub, "x.tmp"))
	_, err := f.WriteAt([]byte("x"), 0)
	require.NoError(t, err)
	require.NoError(t, fsys.Rename(filepath.Join(sub, "x.tmp"), filepath.Join(sub, "x")))
	require.NoError(t, fsys.SyncDir(sub))

	assert.Equal(t, []errorfs.Record{
		{Op: errorfs.OpMkdir, Path: sub},
		{Op: errorfs.OpSyncDir, Path: dir},
		{Op: errorfs.OpOpen, Path: filepath.Join(sub, "x.tmp")},
		{Op: errorfs.OpRename, Path: filepath.Join(sub, "x")},
		{Op: errorfs.OpSyncDir, Path: sub},
	}, fsys.Records(errorfs.OpAll), "reads, writes and stats are not recorded")
	assert.Len(t, fsys.Records(errorfs.OpSyncDir), 2)
}

func TestMkdirAllExisting(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	require.NoError(t, vfs.MkdirAll(fsys, dir, 0o755))
	assert.Empty(t, fsys.Records(errorfs.OpAll), "an existing directory costs nothing")

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSyncDir})
	err := vfs.MkdirAll(fsys, filepath.Join(dir, "new"), 0o755)
	assert.ErrorIs(t, err, syscall.EIO, "a directory whose parent could not be synced is not reported created")
}

func TestOpString(t *testing.T) {
	assert.Equal(t, "write|sync", (errorfs.OpWrite | errorfs.OpSync).String())
	assert.Equal(t, "none", errorfs.Op(0).String())
}
