// Shared set-up of the volume tests: a secret driver and a storage driver over one temporary
// root, a started directory pool "p1" and fast key derivation, so each test file states only
// what is particular to it.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <string_view>

#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/storage_driver.h"

namespace vsecret::test {

// The message of a failed Result, for assertion output and for comparing refusals.
template <typename T>
std::string ErrorOf(const Result<T>& r) {
  return r ? std::string("(no error)") : r.error().message();
}

// Base is ::testing::Test or ::testing::TestWithParam<T>.
template <class Base = ::testing::Test>
class VolumeDriverTest : public Base {
 protected:
  // Opens the secret driver in dir_/root (through env when given) and the storage driver with
  // options_, then defines and starts pool "p1" on the new directory pool_dir_ (dir_/pool).
  // Call from SetUp, after any change to options_; a failure is a fatal test failure.
  void OpenDrivers(Env* env = Env::Default()) {
    auto secrets = SecretDriver::Open(StorePaths::ForRoot(dir_.path() + "/root"), env);
    ASSERT_TRUE(secrets.has_value()) << secrets.error().message();
    secrets_ = std::move(*secrets);
    auto storage = volume::StorageDriver::Open(volume::StoragePaths::ForSecretStore(secrets_->paths()),
                                               secrets_.get(), options_);
    ASSERT_TRUE(storage.has_value()) << storage.error().message();
    storage_ = std::move(*storage);
    pool_dir_ = dir_.path() + "/pool";
    ASSERT_EQ(::mkdir(pool_dir_.c_str(), 0755), 0);
    auto pool = storage_->DefinePool("<pool type='dir'><name>p1</name><target><path>" + pool_dir_ +
                                     "</path></target></pool>");
    ASSERT_TRUE(pool.has_value()) << pool.error().message();
    auto started = storage_->StartPool("p1");
    ASSERT_TRUE(started.has_value()) << started.error().message();
  }

  // Defines the persistent volume secret `uuid` for the volume at `usage_path`.
  void DefineVolumeSecret(std::string_view uuid, const std::string& usage_path, bool is_private = true) {
    auto defined =
        secrets_->DefineXml(Caller{},
                            std::string("<secret ephemeral='no' private='") + (is_private ? "yes" : "no") +
                                "'><uuid>" + std::string(uuid) + "</uuid><usage type='volume'><volume>" +
                                usage_path + "</volume></usage></secret>",
                            0);
    ASSERT_TRUE(defined.has_value()) << defined.error().message();
  }

  TempDir dir_;
  // Key derivation with 1000 iterations: correctness, not strength, is under test.
  volume::StorageOptions options_ = [] {
    volume::StorageOptions o;
    o.kdf.slot_iterations = 1000;
    o.kdf.mk_iterations = 1000;
    return o;
  }();
  std::unique_ptr<SecretDriver> secrets_;
  std::unique_ptr<volume::StorageDriver> storage_;
  std::string pool_dir_;
};

}  // namespace vsecret::test
