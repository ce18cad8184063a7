-- nvim_menus.lua: accept fim-lsp's completion-menu items in nvim-cmp or blink.cmp, in a real
-- headless Neovim, against tests/editors/scripted_server.py:
--
--   nvim -l tests/editors/clients/nvim_menus.lua
--
-- with FIM_LSP_MENU (nvim-cmp or blink.cmp), the environment nvim_menus_init.lua reads, and
-- FIM_LSP_MENU_CASES (a JSON file: [{name, lines, row, keys, accept, want}]). For each case it
-- opens `lines`, appends to line `row` in Insert mode, types `keys` through nvim_input (so the
-- plugin's own autocommands and mappings run), waits for the menu, presses `accept` and waits
-- for the buffer to read `want`. It writes one JSON line per case to FIM_LSP_MENU_OUT: the
-- menu's labels, the buffer's lines and the cursor afterwards, or the error.
local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p'))
local repo = vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(here)))
local menu = assert(os.getenv('FIM_LSP_MENU'), 'FIM_LSP_MENU is not set')
local cases = vim.json.decode(table.concat(vim.fn.readfile(assert(os.getenv('FIM_LSP_MENU_CASES'))), '\n'))
local out_file = assert(os.getenv('FIM_LSP_MENU_OUT'), 'FIM_LSP_MENU_OUT is not set')

local rpc = dofile(repo .. '/editor-clients/neovim/tests/rpc.lua')
local say = rpc.logger('nvim-menus')

local scratch = vim.fn.tempname()
vim.fn.mkdir(scratch .. '/proj', 'p')
local child = rpc.child(repo .. '/editor-clients/neovim', here .. '/nvim_menus_init.lua', {
  XDG_CONFIG_HOME = scratch .. '/config',
  XDG_DATA_HOME = scratch .. '/data',
  XDG_STATE_HOME = scratch .. '/state',
}, scratch .. '/proj')

local lua, input, lines = child.lua, child.input, child.lines
local wait_for = rpc.wait_for

-- The labels the menu shows, in its order; nil while it is closed.
local MENU_LABELS = {
  ['nvim-cmp'] = [[
    local cmp = require('cmp')
    if not cmp.visible() then return nil end
    return vim.tbl_map(function(e) return e.completion_item.label end, cmp.get_entries())
  ]],
  ['blink.cmp'] = [[
    local blink = require('blink.cmp')
    if not blink.is_menu_visible() then return nil end
    return vim.tbl_map(function(item) return item.label end, blink.get_items())
  ]],
}

say('Neovim %s, %s', tostring(vim.version()), menu)

--- A fresh buffer holding `content`, in Insert mode at the end of line `row` (1-based).
local function start(name, content, row)
  input('<Esc>')
  wait_for('Normal mode', 2000, function()
    return lua('return vim.api.nvim_get_mode().mode') == 'n' or nil
  end)
  child.command('silent! %bwipeout!')
  child.command('edit ' .. scratch .. '/proj/' .. name .. '.py')
  lua('vim.api.nvim_buf_set_lines(0, 0, -1, false, ...)', content)
  wait_for('the fim_lsp client', 10000, function()
    return lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' }) == 1") or nil
  end)
  lua('vim.api.nvim_win_set_cursor(0, { ..., 0 })', row)
  input('A')
  wait_for('Insert mode at the end of the line', 2000, function()
    local pos = lua('return vim.api.nvim_win_get_cursor(0)')
    return lua('return vim.api.nvim_get_mode().mode') == 'i' and pos[1] == row and pos[2] == #content[row] or nil
  end)
end

local out = {}
local failed = 0
for _, case in ipairs(cases) do
  local result = { name = case.name }
  local ok, err = xpcall(function()
    start(case.name, case.lines, case.row)
    input(case.keys)
    result.menu = wait_for('the menu', 10000, function()
      local labels = lua(MENU_LABELS[menu])
      return labels and #labels > 0 and labels or nil
    end)
    input(case.accept)
    local ok = vim.wait(5000, function()
      return vim.deep_equal(lines(), case.want)
    end, 20)
    result.lines = lines()
    result.cursor = lua('return vim.api.nvim_win_get_cursor(0)')
    result.mode = lua('return vim.api.nvim_get_mode().mode')
    if not ok then
      error('the buffer never read as expected')
    end
  end, debug.traceback)
  result.error = not ok and err or nil
  failed = failed + (ok and 0 or 1)
  say('%s %s: menu %s', ok and 'PASS' or 'FAIL', case.name, vim.inspect(result.menu))
  if not ok then
    say('%s\nbuffer: %s', err, vim.inspect(result.lines))
  end
  out[#out + 1] = vim.json.encode(result)
end
vim.fn.writefile(out, out_file)

child.quit(5000)
say('%d passed, %d failed', #cases - failed, failed)
os.exit(failed == 0 and 0 or 1)
