/* tests/unit/security/test_security.c - endpoint locality, the mode and its configuration check
 * (engine/security/security.c). The intake checks are exercised through the daemon in
 * tests/integration/test_security.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "security/security.h"

TestSuite(security, .timeout = 30);

Test(security, loopback_and_ipc_endpoints_are_local)
{
	static const char *local[] = {"tcp://127.0.0.1:5570",    "tcp://127.0.0.1:*",
	                              "tcp://127.1.2.3:1",       "tcp://localhost:5570",
	                              "tcp://[::1]:5570",        "tcp://lo:5570",
	                              "ipc:///run/tpclear.sock", "inproc://x"};
	static const char *remote[] = {"tcp://*:5570",
	                               "tcp://0.0.0.0:5570",
	                               "tcp://10.0.0.1:5570",
	                               "tcp://[::]:5570",
	                               "tcp://eth0:5570",
	                               "tcp://example.org:5570",
	                               "tcp://127.0.0.1;10.0.0.1:5570",
	                               "pgm://eth0;239.1.1.1:5555",
	                               "ws://127.0.0.1:80",
	                               "tcp://128.0.0.1:1",
	                               "tcp://[::ffff:10.0.0.1]:5570",
	                               "tcp://"};

	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		cr_assert(tpc_security_endpoint_is_local(local[i]), "%s is local", local[i]);
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		cr_assert(!tpc_security_endpoint_is_local(remote[i]), "%s is not local", remote[i]);
	cr_assert(tpc_security_http_is_local("127.0.0.1:9570"));
	cr_assert(tpc_security_http_is_local("off"));
	cr_assert(tpc_security_http_is_local("localhost:0"));
	cr_assert(!tpc_security_http_is_local("0.0.0.0:9570"));
	cr_assert(!tpc_security_http_is_local(":9570"), "no host: every interface");
}

Test(security, auto_is_curve_unless_every_endpoint_is_local)
{
	tpc_config_t c;
	char err[512];

	tpc_config_defaults(&c);
	cr_assert_eq(c.security_mode, TPC_SECURITY_AUTO);
	cr_assert_eq(tpc_security_mode_of(&c), TPC_SECURITY_PLAIN, "the defaults bind loopback");
	snprintf(c.endpoint, sizeof(c.endpoint), "tcp://*:5570");
	cr_assert_eq(tpc_security_mode_of(&c), TPC_SECURITY_CURVE);
	tpc_config_defaults(&c);
	snprintf(c.http_listen, sizeof(c.http_listen), "0.0.0.0:9570");
	cr_assert_eq(tpc_security_mode_of(&c), TPC_SECURITY_CURVE, "HTTP counts too");
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), 0, "auto is never refused");
	c.security_mode = TPC_SECURITY_CURVE;
	snprintf(c.http_listen, sizeof(c.http_listen), "127.0.0.1:9570");
	cr_assert_eq(tpc_security_mode_of(&c), TPC_SECURITY_CURVE, "curve on loopback too");
}

Test(security, plain_on_a_reachable_endpoint_is_a_configuration_error)
{
	tpc_config_t c;
	char err[512];

	tpc_config_defaults(&c);
	c.security_mode = TPC_SECURITY_PLAIN;
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), 0, "plain on loopback is allowed");
	snprintf(c.endpoint, sizeof(c.endpoint), "tcp://0.0.0.0:5570");
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), TPC_ECONFIG);
	cr_assert(strstr(err, "[intake] endpoint = tcp://0.0.0.0:5570"), "%s", err);
	cr_assert(strstr(err, "mode = curve"), "%s", err);
	tpc_config_defaults(&c);
	c.security_mode = TPC_SECURITY_PLAIN;
	snprintf(c.http_listen, sizeof(c.http_listen), "192.168.1.10:9570");
	cr_assert_eq(tpc_config_check(&c, err, sizeof(err)), TPC_ECONFIG);
	cr_assert(strstr(err, "[http] listen"), "%s", err);
}

Test(security, the_keys_of_the_security_section_load)
{
	tpc_config_t c;
	char err[512];

	tpc_config_defaults(&c);
	cr_assert_eq(tpc_config_load_string(&c, "t.ini",
	                                    "[security]\nmode = curve\nserver_key = /k/s.key\n"
	                                    "senders = /k/senders.ini\n"
	                                    "[engine]\nmax_load_bytes = 2M\n"
	                                    "max_in_flight_per_sender = 0\n",
	                                    err, sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(c.security_mode, TPC_SECURITY_CURVE);
	cr_assert_str_eq(c.server_key, "/k/s.key");
	cr_assert_str_eq(c.senders_path, "/k/senders.ini");
	cr_assert_eq(c.max_load_bytes, 2u << 20);
	cr_assert_eq(c.max_in_flight_per_sender, 0);
	cr_assert_eq(
	    tpc_config_load_string(&c, "t.ini", "[security]\nmode = none\n", err, sizeof(err)),
	    TPC_ECONFIG);
	cr_assert(strstr(err, "t.ini:2: [security] mode = 'none'"), "%s", err);
}
