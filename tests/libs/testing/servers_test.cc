#include "libs/testing/servers.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "gtest/gtest.h"

namespace centric::testing {
namespace {

TEST(RedisServerTest, StartsAnswersAndSurvivesRestart) {
  auto server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", (*server)->port(), tv);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->err, 0);
  auto* reply = static_cast<redisReply*>(redisCommand(c, "SET k v"));
  ASSERT_NE(reply, nullptr);
  freeReplyObject(reply);
  redisFree(c);
  (*server)->Stop();
  c = redisConnectWithTimeout("127.0.0.1", (*server)->port(), tv);
  EXPECT_NE(c->err, 0) << "a stopped server must refuse connections";
  redisFree(c);
  ASSERT_TRUE((*server)->Restart().ok());
}

TEST(PostgresServerTest, StartsAndCreatesIsolatedDatabases) {
  auto server = PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto url = (*server)->CreateDatabase("isolated");
  ASSERT_TRUE(url.ok()) << url.status();
  PGconn* conn = PQconnectdb(url->c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* res = PQexec(conn, "SELECT current_database()");
  ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(res, 0, 0), "isolated");
  PQclear(res);
  PQfinish(conn);
}

}  // namespace
}  // namespace centric::testing
