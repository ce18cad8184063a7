-- Completion-menu source: the built-in vim.lsp.completion (0.11+), plus one fix-up.
--
-- The server sends snippet items to clients that declare snippet support, as Neovim does;
-- vim.lsp.completion inserts their label (the whole first line) and expands the snippet on
-- accept. A plain-text item (capabilities without snippet support) has only the first run of
-- non-blanks of its textEdit inserted ("2 * a * b" -> "2") and the rest never applied, so
-- after such an accepted fim-lsp item this replaces what was inserted with the full textEdit.
local text = require('fim_lsp.text')

local api = vim.api
local M = {}

local function lsp_item(completed)
  local ud = type(completed) == 'table' and completed.user_data
  local nvim = type(ud) == 'table' and ud.nvim
  local lsp = type(nvim) == 'table' and nvim.lsp
  if type(lsp) ~= 'table' then
    return nil
  end
  return lsp.completion_item, lsp.client_id
end

--- Completes the accepted item: the text from the textEdit's start to the cursor becomes the
--- textEdit's full newText.
---@param bufnr integer
---@param client_id integer
local function on_complete_done(bufnr, client_id)
  local reason = vim.v.event and vim.v.event.reason
  if reason and reason ~= 'accept' then
    return
  end
  local item, id = lsp_item(vim.v.completed_item)
  if not item or id ~= client_id or not item.textEdit or item.insertTextFormat == 2 then
    return
  end
  local client = vim.lsp.get_client_by_id(client_id)
  local edit = item.textEdit
  local range = edit.range or edit.insert
  if not client or not range then
    return
  end
  local pos = api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  if range.start.line ~= row then
    return
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local start = text.byte_col(line, range.start.character, client.offset_encoding)
  if start > col or line:sub(start + 1, col) == edit.newText then
    return
  end
  local lines = vim.split(edit.newText, '\n', { plain = true })
  -- After the completion is finished: changing text inside CompleteDone is not allowed.
  vim.schedule(function()
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then
      return
    end
    api.nvim_buf_set_text(bufnr, row, start, row, col, lines)
    local end_row = row + #lines - 1
    local end_col = #lines == 1 and start + #lines[1] or #lines[#lines]
    api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  end)
end

--- Adds "menuone" to the buffer's 'completeopt' (global-local). Without it (Neovim's default
--- "menu,popup") a lone item is inserted at once, with no menu, as its first line; the rest
--- comes only on <C-y>, which nothing on screen suggests, and which with no menu to confirm
--- also inserts the character above the cursor. In a menu, <C-y> accepts the item whole.
---@param bufnr integer
function M.show_lone_items(bufnr)
  local value = vim.bo[bufnr].completeopt -- '' while the buffer has no value of its own
  local current = vim.split(value ~= '' and value or vim.go.completeopt, ',', { trimempty = true })
  if not vim.tbl_contains(current, 'menuone') then
    table.insert(current, 'menuone')
    vim.bo[bufnr].completeopt = table.concat(current, ',')
  end
end

---@param bufnr integer
---@param client_id integer
---@param opts {autotrigger: boolean, menuone: boolean?}
function M.attach(bufnr, client_id, opts)
  if opts.menuone ~= false then
    M.show_lone_items(bufnr)
  end
  if not (vim.lsp.completion and vim.lsp.completion.enable) then
    return -- Neovim 0.10: omnifunc (<C-x><C-o>) still works, through vim.lsp.omnifunc
  end
  vim.lsp.completion.enable(true, client_id, bufnr, { autotrigger = opts.autotrigger })
  local group = api.nvim_create_augroup('fim_lsp.completion.' .. bufnr, { clear = true })
  api.nvim_create_autocmd('CompleteDone', {
    group = group,
    buffer = bufnr,
    callback = function()
      on_complete_done(bufnr, client_id)
    end,
  })
end

return M
