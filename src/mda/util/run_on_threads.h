// A fixed set of worker threads for one parallel step, with errors carried back to the caller.
#pragma once

#include <functional>

namespace mda {

// Runs work(w) for w = 0 .. workers - 1, each on its own thread (in the calling thread when
// workers <= 1), waits for all of them and then rethrows the first exception any of them threw.
void run_on_threads(int workers, const std::function<void(int)>& work);

}  // namespace mda
