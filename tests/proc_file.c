// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/listenq as a file: its mode, its header, identical content whatever
 * the read size, writable only for "reset", and its absence once the module
 * is gone.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

/* The columns every version of listenq prints first, in this order. */
static const char core_columns[] =
	"netns family local origin backlog somaxconn max_syn_backlog "
	"accept_max accept_limit_by accept_len syn_len syn_table "
	"syn_limit_by max_qlen_log alloc alloc_bytes uid inode";

FIXTURE(proc) {
	char *whole;
};

FIXTURE_SETUP(proc)
{
	listenq_unload();
	ASSERT_EQ(0, listenq_load(NULL));
	self->whole = listenq_read_file(LISTENQ_PROC, 65536);
	ASSERT_NE(NULL, self->whole);
}

FIXTURE_TEARDOWN(proc)
{
	free(self->whole);
	EXPECT_EQ(0, listenq_unload());
}

TEST_F(proc, mode_is_0644)
{
	struct stat st;

	ASSERT_EQ(0, stat(LISTENQ_PROC, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(proc, header_names_core_columns)
{
	char *nl = strchr(self->whole, '\n');

	ASSERT_NE(NULL, nl);
	*nl = '\0';
	/* More columns may follow the core ones, after a space. */
	ASSERT_EQ(0, strncmp(self->whole, core_columns, strlen(core_columns)));
	EXPECT_TRUE(self->whole[strlen(core_columns)] == '\0' ||
		    self->whole[strlen(core_columns)] == ' ');
}

TEST_F(proc, one_byte_reads_match)
{
	char *bytewise = listenq_read_file(LISTENQ_PROC, 1);

	ASSERT_NE(NULL, bytewise);
	EXPECT_STREQ(self->whole, bytewise);
	free(bytewise);
}

TEST_F(proc, writable_only_for_reset)
{
	int fd = open(LISTENQ_PROC, O_WRONLY);

	ASSERT_LE(0, fd);
	EXPECT_GT(0, write(fd, "x", 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(5, write(fd, "reset", 5));
	close(fd);
}

TEST(gone_after_unload)
{
	listenq_unload();
	ASSERT_EQ(0, listenq_load(NULL));
	ASSERT_EQ(0, access(LISTENQ_PROC, R_OK));
	ASSERT_EQ(0, listenq_unload());
	EXPECT_NE(0, access(LISTENQ_PROC, F_OK));
	EXPECT_EQ(ENOENT, errno);
}

TEST_HARNESS_MAIN
