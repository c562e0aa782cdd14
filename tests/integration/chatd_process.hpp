// Moved to tests/support/chatd_process.hpp; this forwarder only eases merging branches
// written before the move, and is to be removed after them.
#pragma once
#include "tests/support/chatd_process.hpp"
