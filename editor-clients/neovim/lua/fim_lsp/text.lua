-- Pure text helpers for the ghost-text renderer: no editor state, so tests/unit.lua calls
-- them directly.
local M = {}

--- Byte column (0-based) of an LSP `character` offset in `line`.
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if vim.fn.has('nvim-0.11') == 1 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok or col == nil then
    return #line
  end
  return math.min(col, #line)
end

--- The text of an LSP InlineCompletionItem (a plain string or a snippet StringValue).
---@param item table
---@return string
function M.insert_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    -- A snippet: show and insert its plain text; placeholders keep their default text.
    local value = text.value or ''
    value = value:gsub('%$%b{}', function(p)
      return p:match('^%${%d+:(.*)}$') or ''
    end)
    return (value:gsub('%$%d+', ''))
  end
  return text or ''
end

--- What is still to be shown of `text` once `typed` (already in the buffer) is taken off its
--- front; nil when the typing diverged from the suggestion.
---@param text string
---@param typed string
---@return string?
function M.remaining(text, typed)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  return text:sub(#typed + 1)
end

--- The next word of a suggestion, with the whitespace before it: what "accept word" takes.
---@param text string
---@return string
function M.next_word(text)
  return text:match('^%s*[%w_]+')
    or text:match('^%s*[^%w_%s]+')
    or text:match('^%s+')
    or text
end

--- The rest of the current line of a suggestion; at a line break, the break and the next line.
---@param text string
---@return string
function M.next_line(text)
  local line = text:match('^[^\n]+')
  if line then
    return line
  end
  return text:match('^\n[^\n]*') or text
end

--- Splits a suggestion into the first line (inline) and the lines below it (virt_lines).
---@param text string
---@return string first, string[] rest
function M.split_ghost(text)
  local lines = vim.split(text, '\n', { plain = true })
  local first = table.remove(lines, 1)
  return first, lines
end

return M
