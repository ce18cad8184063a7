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

---@class fim_lsp.Placement
---@field from integer  byte column where accepting starts replacing: the cursor, or for an
---                     item that rewrites text before the cursor (a dedent), its range start
---@field typed string  what the user typed between the replaced text and the cursor that the
---                     item agrees with (kept when `from` is before the cursor)
---@field rest string   what is still to be shown and inserted

--- Where an item stands once the text before the cursor reads `now`. The item replaces
--- [item.start, cursor) of the line with item.text; `asked` is the text before the cursor when
--- it was asked for. Typing that agrees with the item trims it; deleting back to the range start
--- (undoing the indentation a dedent removes) turns it into a plain insertion. Nil when the line
--- no longer fits the item.
---@param item {start: integer, text: string}
---@param asked string
---@param now string
---@return fim_lsp.Placement?
function M.place(item, asked, now)
  local head = asked:sub(1, item.start)
  if now:sub(1, #head) ~= head then
    return nil
  end
  local between = now:sub(#head + 1)
  if item.text:sub(1, #between) == between then
    return { from = #now, typed = '', rest = item.text:sub(#between + 1) }
  end
  -- The item rewrites what was before the cursor (a dedent replaces whitespace): still valid
  -- while that text is there and anything typed after it agrees with the item.
  local replaced = asked:sub(item.start + 1)
  if between:sub(1, #replaced) == replaced then
    local typed = between:sub(#replaced + 1)
    if item.text:sub(1, #typed) == typed then
      return { from = item.start, typed = typed, rest = item.text:sub(#typed + 1) }
    end
  end
  return nil
end

--- What "accept word" or "accept line" takes of `rest`. A piece that would leave only the line
--- break and indentation of a line opened above code (`after` holds that code) takes it too, so
--- that the code is never left joined to the accepted line.
---@param rest string
---@param how 'all'|'word'|'line'
---@param after string  the text after the cursor on its line
---@return string
function M.chunk(rest, how, after)
  local chunk = rest
  if how == 'word' then
    chunk = M.next_word(rest)
  elseif how == 'line' then
    chunk = M.next_line(rest)
  end
  if after:match('%S') and rest:sub(#chunk + 1):match('^\n[ \t]*$') then
    return rest
  end
  return chunk
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
