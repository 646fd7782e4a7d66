// Package pebblelogstore is a multiraft.LogStore on pebble, the LSM engine
// CockroachDB keeps its raft logs in: the logs, HardStates, snapshots and
// compaction points of all the groups of a host in one database, each
// Save one pebble batch committed with one WAL fsync.
//
// Layout: every key starts with the group ID (8 bytes, big endian) and a
// kind byte, so a group's keys are contiguous: 'h' HardState, 's' the
// latest snapshot (its metadata holds the ConfState), 't' the compaction
// point (index and term), and 'e' followed by the entry index (8 bytes,
// big endian) for the entries, in log order. An append that replaces a
// tail deletes it with one range deletion; so do a snapshot that replaces
// the log, Compact and Remove.
//
// Reads go to pebble (its memtable and block cache), not to a copy: a
// Store keeps in memory only each group's compaction point, last index and
// term, HardState and snapshot metadata, which change with the database
// under the group's lock, so a reader sees both at the same state.
//
// What Save returned nil for survives a crash: a Save with any MustSync
// update commits with pebble.Sync. The tests kill a writing process, and
// tear or corrupt the tail of the WAL, and check it.
//
// # Choosing it over boltlogstore
//
// Choose this store for a multiraft host: a Save costs one sequential WAL
// append and one fdatasync whatever the number of groups in it, where
// contrib/boltlogstore rewrites every touched group's B+tree pages and
// syncs twice; measured on the multiraft write path (48 or 1,000 groups
// per pass, 1 or 16 entries of 128 B or 1 KiB each) bbolt took 3-11 times
// as long and made 17-52 times as many allocations. This store also keeps
// only about 100 bytes per group in memory, where boltlogstore holds every
// log since its snapshot. Choose boltlogstore for a few groups with short
// logs when a single file and a small dependency tree matter more. The
// figures and the crash tests are in README.md.
package pebblelogstore
