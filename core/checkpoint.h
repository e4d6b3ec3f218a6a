/* checkpoint: the WAL's checkpoints, off the event loop.
 *
 * SQLite's automatic checkpoint copies the WAL back into the database file when a commit leaves
 * it at 1000 pages or more; it runs inside that commit, with its fsyncs, and so would hold the
 * loop 10-130 ms now and then: in a request's write, or in a step of a job that writes 50,000
 * mails. A serving evne turns it off on the loop's connection; a commit that leaves the WAL at
 * CHECKPOINT_PAGES or more has a PASSIVE checkpoint made on a worker thread, with a connection of
 * its own, which neither waits for the loop nor makes it wait (one at a time). The WAL file is
 * reused from its start once a checkpoint has copied all of it. Loop thread only.
 */
#ifndef EVNE_CHECKPOINT_H
#define EVNE_CHECKPOINT_H

struct app;

#define CHECKPOINT_PAGES 1000

/* Takes a->db's checkpoints off the loop (needs a->loop). */
void checkpoint_start(struct app *a);

/* How many checkpoints were made and how many failed (logged), for the tests and the bench. */
void checkpoint_counts(long *made, long *failed);

#endif
