// XDR payloads of libvirt's SASL procedures (REMOTE program): 67 AUTH_SASL_INIT ret, 68
// AUTH_SASL_START args/ret and 69 AUTH_SASL_STEP args/ret.
//
// Wire encoding of the token, `char data<REMOTE_AUTH_SASL_DATA_MAX>` (65 536), as checked for
// libvirt 9.0 (see /work/notes/sasl.md):
//  * libvirt 9.0 builds remote_protocol.c with the system rpcgen; its post-processing script
//    (src/rpc/genprotocol.pl) only silences warnings and does not turn char arrays into opaques.
//  * rpcgen turns `char data<N>` into xdr_array(..., N, sizeof(char), xdr_char), so the token
//    is a u32 count followed by one 4-byte XDR int per byte. libtirpc's xdr_char encodes the
//    (signed, on x86-64) char as a sign-extended int: 0x80..0xff go out as ffffff80..ffffffff;
//    decoding keeps the low 8 bits of whatever int arrives. No padding: every element is
//    already 4 bytes.
//  * Confirmed with a libtirpc encoder ({nil=0, data="ABC"} = 00000000 00000003 00000041
//    00000042 00000043) and on the wire: strace of a stock virsh 9.0 (DIGEST-MD5) against
//    vsecretd shows its first AUTH_SASL_STEP as a 1064-byte frame: header, nil = 0, count
//    0x101 = 257, then 257 four-byte ints ("00000075 00000073 00000065 00000072..." =
//    'u' 's' 'e' 'r' of DIGEST-MD5's response): 4 + 24 + 8 + 4 * 257 = 1064. vsecret's client
//    with this codec also authenticates against a stock libvirtd 9.0
//    (tests/integration/remote_sasl_test.py).
// Consequence for limits: a full 65 536-byte token costs 4 + 262 144 payload bytes.
//
// `nil` = 1 means "no data" (NULL), which SASL distinguishes from an empty token; the data is
// then empty on the wire.
#pragma once

#include <cstdint>
#include <string>

#include "rpc/xdr.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::rpc {

inline constexpr std::size_t kSaslDataMax = 65536;

// A SASL token with its NULL flag. Tokens can carry passwords (PLAIN) or password-derived
// material, so they live in wiping memory.
struct SaslToken {
  bool nil = true;
  SecretBytes data;
};

// 67 AUTH_SASL_INIT ret.
struct SaslInitRet {
  std::string mechlist;  // comma separated
};
// 68 AUTH_SASL_START args.
struct SaslStartArgs {
  std::string mech;
  SaslToken token;
};
// 69 AUTH_SASL_STEP args.
struct SaslStepArgs {
  SaslToken token;
};
// 68 and 69 ret.
struct SaslStepRet {
  bool complete = false;
  SaslToken token;
};

// Encode appends; Decode reads with the decoder's sticky-failure rule and fails on a token
// longer than kSaslDataMax.
void Encode(XdrEncoder& enc, const SaslInitRet& v);
bool Decode(XdrDecoder& dec, SaslInitRet* v);
void Encode(XdrEncoder& enc, const SaslStartArgs& v);
bool Decode(XdrDecoder& dec, SaslStartArgs* v);
void Encode(XdrEncoder& enc, const SaslStepArgs& v);
bool Decode(XdrDecoder& dec, SaslStepArgs* v);
void Encode(XdrEncoder& enc, const SaslStepRet& v);
bool Decode(XdrDecoder& dec, SaslStepRet* v);

}  // namespace vsecret::rpc
