#include "mda/serve/admission.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

namespace mda {
namespace {

TEST(Admission, CountsRunningRequestsAndRefusesBeyondSlotsAndWaitingRoom) {
  Admission admission(1, 1);
  std::optional<Admission::Ticket> first(admission.enter());
  ASSERT_TRUE(first->admitted());
  EXPECT_EQ(admission.running(), 1);
  EXPECT_EQ(admission.waiting(), 0);

  // The second request waits for the slot; a third finds the waiting room full.
  std::thread second([&] {
    const Admission::Ticket ticket = admission.enter();
    EXPECT_TRUE(ticket.admitted());
  });
  for (int i = 0; i < 2000 && admission.waiting() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(admission.waiting(), 1);
  EXPECT_FALSE(admission.enter().admitted());
  EXPECT_EQ(admission.running(), 1);

  first.reset();  // frees the slot: the waiting request runs and leaves
  second.join();
  EXPECT_EQ(admission.running(), 0);
  EXPECT_EQ(admission.waiting(), 0);
  EXPECT_TRUE(admission.enter().admitted());
}

}  // namespace
}  // namespace mda
