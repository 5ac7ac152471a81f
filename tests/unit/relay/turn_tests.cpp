// How long a relay's turn is: 64 KiB while the thread's relays take turns,
// 16 MiB once one relay has had the thread to itself.
#include "socks/relay/relay_service.hpp"

#include <catch2/catch.hpp>

using weir::relay::detail::turn_keeper;

TEST_CASE("a relay's turns grow long only after it has had the thread to itself", "[relay][turn]") {
    const std::size_t long_turn = turn_keeper::alone_bytes;
    turn_keeper turns;
    const int a = 0;
    const int b = 0;
    for (unsigned i = 0; i < turn_keeper::alone_after; ++i)
        CHECK(turns.next(&a) == turn_keeper::shared_bytes);
    for (int i = 0; i < 3; ++i)
        CHECK(turns.next(&a) == long_turn);

    SECTION("another relay's turn makes both share again") {
        CHECK(turns.next(&b) == turn_keeper::shared_bytes);
        for (int i = 0; i < 100; ++i) {
            CHECK(turns.next(&a) == turn_keeper::shared_bytes);
            CHECK(turns.next(&b) == turn_keeper::shared_bytes);
        }
    }
    SECTION("the two directions of one relay count as one relay") {
        // Both directions of a relay ask with the relay's own key.
        for (int i = 0; i < 10; ++i)
            CHECK(turns.next(&a) == long_turn);
    }
    SECTION("a relay that has ended is forgotten: an object at its address starts anew") {
        turns.forget(&a);
        CHECK(turns.next(&a) == turn_keeper::shared_bytes);
    }
    SECTION("forgetting another relay changes nothing") {
        turns.forget(&b);
        CHECK(turns.next(&a) == long_turn);
    }
}
