// Aligned plain-text tables for terminal output.
#ifndef CENTRIC_SERVICES_CENTRICCTL_TABLE_H_
#define CENTRIC_SERVICES_CENTRICCTL_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace centric::ctl {

// Columns are as wide as their widest cell (in bytes) and separated by two spaces; the
// last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  // Missing cells print empty; extra cells are dropped.
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace centric::ctl

#endif  // CENTRIC_SERVICES_CENTRICCTL_TABLE_H_
