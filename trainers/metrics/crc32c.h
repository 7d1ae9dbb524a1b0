// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mm::train {

uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0);
// TFRecord mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
inline uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace mm::train
