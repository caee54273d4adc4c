#pragma once

// What a BMC can do, named by interface as Ironic names its hardware interfaces: power, boot,
// media, inventory, erase. Header-only, so that the lifecycle can name what each job type
// needs without linking the drivers.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ab::bmc {

/// One optional interface of a BMC driver (`driver.hpp`).
enum class capability : std::uint8_t {
  /// Power state and power actions (`power_control`).
  power,
  /// The next boot device (`boot_control`).
  boot,
  /// A virtual CD (`media_control`).
  media,
  /// What the machine is made of (`inventory_reader`).
  inventory,
  /// Secure erase of every drive (`disk_eraser`).
  erase,
};

/// Every capability, in declaration order.
inline constexpr std::array<capability, 5> every_capability{
    capability::power, capability::boot, capability::media, capability::inventory,
    capability::erase};

/// The capability's name: `power`, `boot`, `media`, `inventory`, `erase`.
constexpr std::string_view to_string(capability c) {
  switch (c) {
    case capability::power:
      return "power";
    case capability::boot:
      return "boot";
    case capability::media:
      return "media";
    case capability::inventory:
      return "inventory";
    case capability::erase:
      return "erase";
  }
  return "unknown";
}

/// The capability called `name`, or nullopt.
constexpr std::optional<capability> capability_named(std::string_view name) {
  for (auto c : every_capability)
    if (to_string(c) == name) return c;
  return std::nullopt;
}

/// A set of capabilities.
class capability_set {
 public:
  constexpr capability_set() = default;
  constexpr capability_set(std::initializer_list<capability> cs) {
    for (auto c : cs) add(c);
  }

  /// Every capability.
  static constexpr capability_set all() {
    capability_set s;
    for (auto c : every_capability) s.add(c);
    return s;
  }

  constexpr bool has(capability c) const { return (bits_ & bit(c)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  /// Whether every capability of `other` is in this set.
  constexpr bool contains(capability_set other) const { return (other.bits_ & ~bits_) == 0; }
  constexpr capability_set& add(capability c) {
    bits_ = static_cast<std::uint8_t>(bits_ | bit(c));
    return *this;
  }

  friend constexpr capability_set operator|(capability_set a, capability_set b) {
    return from_bits(static_cast<std::uint8_t>(a.bits_ | b.bits_));
  }
  friend constexpr capability_set operator&(capability_set a, capability_set b) {
    return from_bits(static_cast<std::uint8_t>(a.bits_ & b.bits_));
  }
  /// What `a` has and `b` has not.
  friend constexpr capability_set operator-(capability_set a, capability_set b) {
    return from_bits(static_cast<std::uint8_t>(a.bits_ & ~b.bits_));
  }
  friend constexpr bool operator==(capability_set a, capability_set b) {
    return a.bits_ == b.bits_;
  }
  friend constexpr bool operator!=(capability_set a, capability_set b) {
    return a.bits_ != b.bits_;
  }

  /// The names of its capabilities, in declaration order.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto c : every_capability)
      if (has(c)) out.emplace_back(to_string(c));
    return out;
  }

  /// Its names joined with ", " (`media, erase`); `none` when empty.
  std::string describe() const {
    std::string out;
    for (const auto& n : names()) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
  }

 private:
  static constexpr std::uint8_t bit(capability c) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(c));
  }
  static constexpr capability_set from_bits(std::uint8_t bits) {
    capability_set s;
    s.bits_ = bits;
    return s;
  }

  std::uint8_t bits_ = 0;
};

}  // namespace ab::bmc
