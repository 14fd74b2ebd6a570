// The web UI's built files (web/ through Vite), compiled into the binary by embed_assets at
// build time, so serving the UI needs no Node and no file on disk. ui_routes.cpp serves them.
#pragma once

#include <cstddef>

namespace llmtune::server {

struct UiAsset {
    const char* path;  // relative to the dist folder, '/'-separated: "index.html", "assets/x.js"
    const char* data;
    size_t size;
    const char* gzip;  // the same bytes gzip-compressed, or nullptr when that saves nothing
    size_t gzip_size;
};

struct UiAssetTable {
    const UiAsset* items;  // sorted by path
    size_t count;          // 0 in a build configured with -DLLMTUNE_UI=OFF
};

UiAssetTable embedded_ui_assets();

}  // namespace llmtune::server
