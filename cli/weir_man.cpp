// weir_man OUTPUT DOC_DIR: writes weir(1) from the option table (run at build time).
#include "cli/man_page.hpp"

#include <cstdio>
#include <fstream>

#ifndef WEIR_VERSION
#error "WEIR_VERSION is set by cli/CMakeLists.txt"
#endif

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: weir_man OUTPUT DOC_DIR\n");
        return 2;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << weir::cli::man_page(WEIR_VERSION, argv[2]);
    out.close();
    if (!out) {
        std::fprintf(stderr, "weir_man: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
