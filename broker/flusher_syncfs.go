package broker

// syncfsMinLogs is how many dirty partitions on the data directory's
// filesystem a round needs before it syncs them with one syncfs(2) instead
// of one fsync each. A syncfs costs about the same however few files are
// dirty, and it also writes back dirty data of the filesystem that is not
// the broker's, so a few partitions are cheaper fsynced one by one.
// BenchmarkSyncfsThreshold (2-core VM, ext4 on virtio, loaded by another
// job; ms per round of ~20 KiB per partition, wall / machine CPU):
//
//	logs  fsync each            one syncfs
//	   8  2.5-2.8 / 4.0-5.5     5.4-9.8 / 9.0-18
//	  16  5.7-6.5 / 9.3-9.5     5.4-18  / 9.5-29
//	  32  11.6-21.7 / 21.5-35   7.0-10  / 12.3-15.5
//
// At 16 they tie; from 32 syncfs wins every run.
const syncfsMinLogs = 32

// syncWide syncs the logs of wide, all on the data directory's filesystem,
// with one syncfs(2): each log's round is captured (BeginSync), one
// barrier makes everything written so far durable, and each round is
// finished with its result. At 1,000 dirty partitions that is one device
// cache flush per flush interval instead of a thousand, and the kernel
// writes the pages back in one pass over the filesystem's dirty inodes.
//
// A failed syncfs turns the coalescing off for the rest of the process:
// the kernel reports a writeback error to a syncfs descriptor once, through
// the superblock's error sequence, whatever file it was. The failing round's
// logs fsync their own files (Finish), and each file's descriptor still
// holds its unreported error, so the error reaches the log that lost data.
// But a log written after this round's capture, whose pages failed
// writeback before the syncfs, is only in the next round, and a second
// syncfs would not report that error again: its data would be counted
// durable. From then on only per-file fsyncs, whose error sequence is the
// file's own, decide what is durable. (PostgreSQL's fsyncgate, on
// docs/storage.md's "Storage faults".)
func (f *flusher) syncWide(wide []*partition) {
	rounds := f.rounds[:0]
	for _, p := range wide {
		rounds = append(rounds, p.log.BeginSync())
	}
	err := f.syncfs()
	if err != nil {
		f.syncfsFailed = true
		f.b.log.Error("syncfs of the data directory failed; fsyncing each partition from now on", "dir", f.b.cfg.DataDir, "err", err)
	}
	finish := func(i int) {
		p := wide[i]
		if _, err := rounds[i].Finish(err); err != nil && !p.deleted.Load() {
			f.b.log.Error("fsync failed", "topic", p.t.name, "partition", p.index, "err", err)
		}
		f.b.purg.Notify(p.key)
	}
	if err != nil {
		forEachPartition(len(wide), finish) // each log fsyncs its files
	} else {
		for i := range wide {
			finish(i)
		}
	}
	clear(rounds)
	f.rounds = rounds[:0]
}

// closeSyncfs closes the data directory descriptor syncfs used.
func (f *flusher) closeSyncfs() {
	if f.syncfsDir != nil {
		f.syncfsDir.Close()
	}
}
